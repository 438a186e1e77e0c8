/**
 * Redis loses its data (FLUSHALL, a new Redis container, a lost volume) under a running service with
 * an encrypted off-site target (`rclone serve webdav`), while one archive's copy is still retrying.
 * The service's processes (API and worker, started as in production) keep running on a Redis of
 * this test's own (test/helpers/throwaway-redis.ts). What must follow: the copy records come back
 * from the target itself, the copies already there are not uploaded again (a new upload would be a
 * new encryption, so a new ciphertext: the test compares the objects' sha256), the copy that was
 * lost in flight is made, a copy whose object does not match its marker is no copy (uploaded again), the listing, the scheduled verification and /metrics know the copies
 * again, local prune removes only what the target holds and raises no false `offsite.overdue`,
 * and the target's retention counts the copies as they are.
 *
 * Before the change (found in this session): the listing showed `copies: []` for good, the copy
 * that was retrying at the loss was never made, and the next prune deleted that archive locally,
 * so that it existed nowhere any more; the verification of a set checked no copy.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileOf, startRedisLossService, VOLUME, type RedisLossService } from '../helpers/redis-loss.js';
import { http, waitFor, waitForJobsSettled } from '../helpers/service.js';

describe('off-site copies after Redis lost its data', () => {
  let svc: RedisLossService;
  const shaBefore = new Map<string, string>();
  let logOffset = 0;
  const objectSha = async (name: string) => createHash('sha256').update(await fs.readFile(path.join(svc.davDir, name))).digest('hex');
  const logsSinceLoss = () => svc.worker.logs().slice(logOffset);

  before(async () => {
    const identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    svc = await startRedisLossService(() => ({ OFFSITE_AGE_RECIPIENTS: /public key: (age1\S+)/.exec(identity)![1]! }));
  });

  after(async () => {
    await svc?.stop();
  });

  it('before the loss: two sets copied; a third one\'s copy fails while the target refuses, and waits for its retry', async () => {
    const { api, worker, davDir, stamps, runNow, copiesOf } = svc;
    for (let i = 0; i < 2; i++) {
      await runNow();
      await waitForJobsSettled(api.url, undefined);
    }
    for (const s of stamps) {
      assert.equal((await copiesOf(s)).length, 1, `set ${s} copied`);
      shaBefore.set(s, await objectSha(`${fileOf(s)}.age`));
    }
    // The target refuses writes for a while.
    const allowWrites = await svc.refuseWrites();
    const third = await runNow();
    await waitFor(() => new RegExp(`"file":"${fileOf(third)}"[^\\n]*"msg":"off-site copy failed"`).test(worker.logs()), 60_000, 'the third copy to fail once');
    await allowWrites();
    assert.ok(!(await fs.readdir(davDir)).some((n) => n.startsWith(fileOf(third))), 'the third set is not on the target');
    // The first set's copy is damaged on the target (its marker unchanged): it must not count as a copy.
    const damaged = path.join(davDir, `${fileOf(stamps[0]!)}.age`);
    const bytes = await fs.readFile(damaged);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
    await fs.writeFile(damaged, bytes);
    // The loss: everything in Redis, while both processes keep running.
    logOffset = worker.logs().length;
    await svc.loseRedisData();
  });

  it('the listing shows the copy already on the target again, found there, not uploaded again; the damaged one is copied again', async () => {
    const { dav, stamps, copiesOf } = svc;
    for (const s of stamps.slice(1, 2)) {
      const copies = await waitFor(async () => ((await copiesOf(s)).length === 1 ? copiesOf(s) : undefined), 30_000, `the copy of ${s} listed again`);
      assert.equal(copies[0]!.target, `${dav.name}:oob`);
      assert.equal(copies[0]!.file, `${fileOf(s)}.age`);
      assert.equal(copies[0]!.sha256, shaBefore.get(s), 'the object that was there');
      assert.equal(await objectSha(`${fileOf(s)}.age`), shaBefore.get(s), 'not uploaded again (a new upload is a new encryption)');
    }
    assert.match(logsSinceLoss(), /"msg":"copy found on the target and verified there; recorded without uploading"/);
    const first = stamps[0]!;
    const copies = await waitFor(async () => ((await copiesOf(first)).length === 1 ? copiesOf(first) : undefined), 30_000, 'the damaged copy made again');
    assert.notEqual(copies[0]!.sha256, shaBefore.get(first), 'a new upload, a new encryption');
    assert.equal(copies[0]!.sha256, await objectSha(`${fileOf(first)}.age`));
    assert.match(logsSinceLoss(), new RegExp(`"file":"${fileOf(first)}"[^\\n]*"msg":"the target holds no good copy of this archive under its name; uploading it again"`));
  });

  it('the copy that was lost in flight with the queue is made', async () => {
    const { davDir, stamps, copiesOf } = svc;
    const third = stamps[2]!;
    await waitFor(async () => ((await copiesOf(third)).length === 1 ? true : undefined), 60_000, 'the third set copied');
    execFileSync('sha256sum', ['-c', `${fileOf(third)}.age.sha256`], { cwd: davDir, stdio: 'ignore' });
  });

  it('verifying a set checks its copy on the target again; /metrics has the last copy', async () => {
    const { api, dav, stamps } = svc;
    const r = await http(api.url, 'POST', `/api/backups/${stamps[1]}/verify`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitFor(() => new RegExp(`"file":"${fileOf(stamps[1]!)}"[^\\n]*"msg":"off-site copy verified"`).test(logsSinceLoss()), 60_000, 'the copy verified');
    const metrics = (await http(api.url, 'GET', '/metrics')).body as string;
    assert.match(metrics, new RegExp(`oob_backup_offsite_last_copy_timestamp_seconds\\{volume="${VOLUME}",target="${dav.name}:oob"\\} \\d+`));
  });

  it('the next run uploads only its own archive; prune removes what the target holds, without offsite.overdue; the target keeps 3', async () => {
    const { api, fx, davDir, stamps, runNow } = svc;
    await waitForJobsSettled(api.url, undefined);
    const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 1 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const fourth = await runNow();
    await waitForJobsSettled(api.url, undefined);
    const local = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(local, [fileOf(fourth)], 'keep 1, and every older archive is on the target');
    assert.doesNotMatch(logsSinceLoss(), /kept archives that are not on every off-site target yet/);
    assert.equal(await objectSha(`${fileOf(stamps[1]!)}.age`), shaBefore.get(stamps[1]!), 'the good copy not uploaded again');
    const onTarget = (await fs.readdir(davDir)).filter((n) => n.endsWith('.tar.gz.age')).sort();
    assert.deepEqual(onTarget, stamps.slice(1).map((s) => `${fileOf(s)}.age`), 'keep:3 on the target: the oldest went');
    assert.equal((logsSinceLoss().match(/"msg":"off-site copy finished and verified"/g) ?? []).length, 3, 'three uploads since the loss: the damaged one, the lost one and the new one');
    assert.equal((logsSinceLoss().match(/"msg":"copy found on the target and verified there; recorded without uploading"/g) ?? []).length, 1, 'the good copy there was found');
  });
});

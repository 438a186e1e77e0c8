/**
 * Off-site copies in the backup flow, through the real service (`npm start`'s processes) with two
 * real targets started here: an sshd as SFTP remote and `rclone serve webdav`. The copy follows the
 * verification, arrives encrypted with its sidecars (the `age` CLI and GNU tar read it), shows in
 * the listing and the metrics; a target that goes down makes the copy retry and alert, and prune
 * keeps the archive it has not received; no secret (rclone config values, the age identity) is in
 * logs, Redis, job data or API answers.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { rcloneConfig, startSftpServer, startWebdavServer, type TestRemote } from '../helpers/offsite-servers.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { http, makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { gnuTarArchive, makeVolume } from '../helpers/volumes.js';

const OLD = 'lucindadata_2030-06-01-0315.tar.gz';

describe('off-site copies in the backup flow', () => {
  let fx: Fixture;
  let svc: Service;
  let sftp: TestRemote;
  let dav: TestRemote;
  let receiver: Receiver;
  let identity = '';
  let sftpDir = '';
  const answers: string[] = [];
  const get = async (url: string) => {
    const r = await http(svc.url, 'GET', url);
    answers.push(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    return r;
  };
  const runNow = async () => {
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    answers.push(JSON.stringify(r.body));
    await waitForJobsSettled(svc.url, undefined);
    return r.body.stamp as string;
  };

  before(async () => {
    receiver = await startReceiver();
    fx = await makeFixture({}, { clock: TEST_START });
    // One after the other: each is assigned before the next can fail, so that `after` stops it.
    sftp = await startSftpServer(path.join(fx.root, 'sftp'));
    dav = await startWebdavServer(path.join(fx.root, 'dav'));
    sftpDir = path.join(sftp.dir, 'oob');
    const config = await rcloneConfig(path.join(fx.root, 'rclone.conf'), [sftp, dav]);
    identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    await fs.writeFile(path.join(fx.root, 'key.txt'), identity, { mode: 0o600 });
    await makeVolume(path.join(fx.volumesDir, 'lucindadata'), 'lucindadata');
    // An archive from before OFFSITE_TARGETS was set: never copied, so it must not wait for copies.
    await gnuTarArchive(path.join(fx.volumesDir, 'lucindadata'), path.join(fx.backupDir, OLD));
    svc = await startService('start', {
      ...fx.env,
      OFFSITE_TARGETS: `${sftp.name}:${sftpDir},${dav.name}:oob`,
      RCLONE_CONFIG: config,
      OFFSITE_AGE_RECIPIENTS: /public key: (age1\S+)/.exec(identity)![1]!,
      OFFSITE_COPY_ATTEMPTS: '2',
      OFFSITE_RETRY_DELAY: '0.05',
      NOTIFY_WEBHOOK_URL: receiver.url,
      NOTIFY_RETRY_DELAY: '0.05',
    });
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 1 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });

  after(async () => {
    await svc?.stop();
    await Promise.all([sftp?.stop(), dav?.stop(), receiver?.close()]);
    await fx?.cleanup();
  });

  let first = '';
  it('copies the verified archive to both targets, encrypted, with its sidecars; age -d | tar -tz lists it', async () => {
    first = await runNow();
    const file = `lucindadata_${first}.tar.gz`;
    assert.ok(!(await fs.readdir(fx.backupDir)).includes(OLD), 'keep 1: the archive from before off-site copies is pruned, not held for copies');
    for (const dir of [sftpDir, path.join(dav.dir, 'oob')]) {
      assert.deepEqual((await fs.readdir(dir)).sort(), [`${file}.age`, `${file}.age.sha256`, `${file}.manifest.json.age`, `${file}.sha256`]);
      execFileSync('sha256sum', ['-c', `${file}.age.sha256`], { cwd: dir, stdio: 'ignore' });
      const listing = execSync(`age -d -i ${path.join(fx.root, 'key.txt')} ${file}.age | tar -tzvf -`, { cwd: dir, encoding: 'utf8' });
      assert.match(listing, /nested\/deeper\/deepest\/data\.bin/);
      assert.match(listing, /link-to-data -> nested/);
    }
  });

  it('lists the copies per archive and the last copy per volume and target in /metrics', async () => {
    const set = (await get('/api/backups')).body.sets[0];
    const copies = set.archives[0].copies as { target: string; file: string; size: number; sha256: string; copiedAt: string; verifiedAt: string }[];
    assert.deepEqual(copies.map((c) => c.target).sort(), [`${dav.name}:oob`, `${sftp.name}:${sftpDir}`].sort());
    for (const c of copies) {
      // Each target gets its own encryption (age draws a new file key), so its own ciphertext.
      const onDisk = await fs.readFile(path.join(c.target.startsWith(dav.name) ? path.join(dav.dir, 'oob') : sftpDir, `${set.archives[0].file}.age`));
      const sha = execFileSync('sha256sum', { input: onDisk, encoding: 'utf8' }).slice(0, 64);
      assert.equal(c.file, `${set.archives[0].file}.age`);
      assert.equal(c.size, onDisk.length);
      assert.equal(c.sha256, sha, 'the ciphertext\'s sha256: checkable without the key');
      assert.ok(c.copiedAt && c.verifiedAt);
    }
    const metrics = (await get('/metrics')).body as string;
    assert.match(metrics, new RegExp(`oob_backup_offsite_last_copy_timestamp_seconds\\{volume="lucindadata",target="${dav.name}:oob"\\} \\d+`));
  });

  it('verifying the set again checks the copies: a good one gets a new verifiedAt, a damaged one is copied again', async () => {
    const file = `lucindadata_${first}.tar.gz`;
    const before = (await get('/api/backups')).body.sets[0].archives[0].copies as { target: string; sha256: string; verifiedAt: string }[];
    const object = path.join(sftpDir, `${file}.age`);
    const bytes = await fs.readFile(object);
    bytes[100] = bytes[100]! ^ 0x01;
    await fs.writeFile(object, bytes);
    await fx.clock.advance(5_000);
    const r = await http(svc.url, 'POST', `/api/backups/${first}/verify`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const failed = await waitFor(async () => {
      const jobs = (await get('/api/jobs?queue=verify&state=failed')).body.jobs as { failedReason: string }[];
      return jobs.length === 1 ? jobs : undefined;
    }, 20_000, 'the verification to fail');
    assert.match(failed[0]!.failedReason, new RegExp(`verified locally, but its copy on ${sftp.name}:.* is not good .*: copied again`));
    const after = await waitFor(async () => {
      const copies = (await get('/api/backups')).body.sets[0].archives[0].copies as { target: string; sha256: string; verifiedAt: string }[];
      return copies.length === 2 && copies.every((c) => c.verifiedAt !== before.find((b) => b.target === c.target)!.verifiedAt) ? copies : undefined;
    }, 20_000, 'the copy made again and the good one verified again');
    const sftpCopy = after.find((c) => c.target.startsWith(sftp.name))!;
    assert.notEqual(sftpCopy.sha256, before.find((c) => c.target.startsWith(sftp.name))!.sha256, 'a new encryption');
    execFileSync('sha256sum', ['-c', `${file}.age.sha256`], { cwd: sftpDir, stdio: 'ignore' });
  });

  it('verifying the set again also checks the sidecars a restore needs: a copy without its manifest is made again', async () => {
    // An audit found such copies (no manifest, no completion marker, a zeroed .sha256) reported
    // good with a new verifiedAt, while a restore from the target refused them.
    const file = `lucindadata_${first}.tar.gz`;
    const davDir = path.join(dav.dir, 'oob');
    const localSha = (await fs.readFile(path.join(fx.backupDir, `${file}.sha256`), 'utf8')).slice(0, 64);
    await fs.rm(path.join(davDir, `${file}.manifest.json.age`));
    await fs.writeFile(path.join(sftpDir, `${file}.sha256`), `${'0'.repeat(64)}  ${file}\n`);
    await fx.clock.advance(5_000);
    const r = await http(svc.url, 'POST', `/api/backups/${first}/verify`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const failed = await waitFor(async () => {
      const jobs = (await get('/api/jobs?queue=verify&state=failed')).body.jobs as { failedReason: string }[];
      return jobs.find((j) => /no manifest beside it/.test(j.failedReason));
    }, 20_000, 'the verification to fail on the missing manifest');
    assert.match(failed.failedReason, new RegExp(`${sftp.name}:\\S+ is not good \\(${file}\\.sha256 on \\S+ gives 0{64}, the archive here has ${localSha}\\)`));
    assert.match(failed.failedReason, new RegExp(`${dav.name}:oob is not good \\(${file}\\.age on ${dav.name}:oob has no manifest beside it\\)`));
    await waitFor(async () => (await fs.readdir(davDir)).includes(`${file}.manifest.json.age`) && (await fs.readFile(path.join(sftpDir, `${file}.sha256`), 'utf8')).startsWith(localSha), 20_000, 'both copies made again');
    await waitForJobsSettled(svc.url, undefined);
    for (const dir of [sftpDir, davDir]) execFileSync('sha256sum', ['-c', `${file}.age.sha256`], { cwd: dir, stdio: 'ignore' });
  });

  it('a restore from a target where the copy was replaced (sidecars to match) is refused by the sha256 recorded here; nothing changes', async () => {
    const file = `lucindadata_${first}.tar.gz`;
    const volume = path.join(fx.volumesDir, 'lucindadata');
    const tree = await snapshotTree(volume);
    // Whoever can write to the target: another archive, encrypted to the (public) recipient, with
    // the marker and the plaintext checksum rewritten to match it.
    const forgedTree = path.join(fx.root, 'forged-tree');
    await fs.mkdir(forgedTree);
    await fs.writeFile(path.join(forgedTree, 'not-yours.txt'), 'forged\n');
    const forgedPlain = path.join(fx.root, 'forged.tar.gz');
    await gnuTarArchive(forgedTree, forgedPlain);
    execFileSync('age', ['-r', /public key: (age1\S+)/.exec(identity)![1]!, '-o', path.join(sftpDir, `${file}.age`), forgedPlain]);
    const sha = (f: string) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).slice(0, 64);
    await fs.writeFile(path.join(sftpDir, `${file}.age.sha256`), `${sha(path.join(sftpDir, `${file}.age`))}  ${file}.age\n`);
    await fs.writeFile(path.join(sftpDir, `${file}.sha256`), `${sha(forgedPlain)}  ${file}\n`);
    // The local archive is gone (a dead disk), Redis still knows the copy: the restore must fetch.
    for (const f of await fs.readdir(fx.backupDir)) if (f.startsWith(file)) await fs.rm(path.join(fx.backupDir, f));
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: first, volumes: ['lucindadata'], from: `${sftp.name}:${sftpDir}`, skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    answers.push(JSON.stringify(req.body));
    const conf = await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token, ageIdentity: identity });
    assert.equal(conf.status, 202, JSON.stringify(conf.body));
    const done = await waitFor(async () => {
      const r = (await get(`/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 30_000, 'the restore to end');
    assert.equal(done.state, 'failed', JSON.stringify(done));
    assert.match(JSON.stringify(done), /is not the copy this server uploaded: its sha256 differs from the one recorded/);
    assert.deepEqual(await fs.readdir(fx.backupDir).then((l) => l.filter((f) => f.startsWith(file))), [], 'nothing fetched stays');
    assertSameTree(await snapshotTree(volume), tree);
  });

  it('a target that is down: the copy retries and alerts, the backup succeeds, prune keeps what the target lacks', async () => {
    await dav.stop();
    await fx.clock.advance(60_000);
    const second = await runNow();
    await fx.clock.advance(60_000);
    const third = await runNow();
    // The copies of the second and third run to the stopped target fail for good (after their retry).
    // (The third run's prune may queue the second's failed copy again: more may fail meanwhile.)
    await waitFor(async () => (await get('/api/jobs?queue=copy&state=failed')).body.jobs.length >= 2, 20_000, 'two failed copies');
    const jobs = (await get('/api/jobs?limit=1000')).body.jobs as { queue: string; state: string; stamp: string }[];
    for (const q of ['archive', 'verify', 'prune']) {
      const ofRuns = jobs.filter((j) => j.queue === q && [second, third].includes(j.stamp));
      assert.equal(ofRuns.length, 2);
      assert.ok(ofRuns.every((j) => j.state === 'completed'), `${q} jobs of the two runs completed`);
    }
    // keep: 1. The first archive is on both targets: pruned. The second is not on WebDAV: kept.
    const local = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(local, [`lucindadata_${second}.tar.gz`, `lucindadata_${third}.tar.gz`]);
    await waitFor(() => receiver.alerts.filter((a) => a.event === 'offsite.failed').length >= 2 && receiver.alerts.some((a) => a.event === 'offsite.overdue'), 20_000, 'the alerts');
    const failed = receiver.alerts.find((a) => a.event === 'offsite.failed');
    assert.equal(failed.details.target, `${dav.name}:oob`);
    assert.equal(failed.attempt, 2);
    assert.match(failed.reason, /connection refused/);
    // The second run's copy to SFTP runs beside the third run's prune, so it may still be missing there too.
    const overdue = receiver.alerts.find((a) => a.event === 'offsite.overdue');
    assert.deepEqual(overdue.details.files.map((f: { file: string }) => f.file), [`lucindadata_${second}.tar.gz`]);
    assert.ok(overdue.details.files[0].missingOn.includes(`${dav.name}:oob`), JSON.stringify(overdue.details));
    // The SFTP target has all three.
    assert.equal((await fs.readdir(sftpDir)).filter((n) => n.endsWith('.tar.gz.age')).length, 3);
  });

  it('a copy that failed for good is queued again by the next prune once the target is back: it arrives, and the archive can go', async () => {
    // An audit found such archives kept for good, with an offsite.overdue alert every night.
    const held = (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz'));
    assert.equal(held.length, 2);
    await dav.restart!();
    await fx.clock.advance(60_000);
    await runNow();
    const davDir = path.join(dav.dir, 'oob');
    for (const file of held) assert.ok((await fs.readdir(davDir)).includes(`${file}.age`), `${file} copied to WebDAV at last`);
    const logs = svc.logs();
    assert.match(logs, /off-site copies that failed for good queued again/);
    await fx.clock.advance(60_000);
    const fifth = await runNow();
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')), [`lucindadata_${fifth}.tar.gz`], 'keep 1: the archives held for their copies are pruned now');
  });

  it('has no secret in logs, Redis keys or values (job data), API answers or alerts', async () => {
    for (const j of (await get('/api/jobs?limit=1000')).body.jobs as { id: string }[]) await get(`/api/jobs/${encodeURIComponent(j.id)}`);
    const redis = new Redis(REDIS_URL);
    const stored: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${fx.prefix}:*`, 'COUNT', 500);
        cursor = next;
        for (const k of keys) {
          stored.push(k);
          const type = await redis.type(k);
          if (type === 'string') stored.push((await redis.get(k)) ?? '');
          else if (type === 'hash') stored.push(JSON.stringify(await redis.hgetall(k)));
          else if (type === 'list') stored.push(JSON.stringify(await redis.lrange(k, 0, -1)));
          else if (type === 'set') stored.push(JSON.stringify(await redis.smembers(k)));
          else if (type === 'zset') stored.push(JSON.stringify(await redis.zrange(k, '0', '-1')));
          else if (type === 'stream') stored.push(JSON.stringify(await redis.xrange(k, '-', '+')));
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    assert.ok(stored.some((s) => s.includes('offsite.failed')), 'the scan sees the alert jobs (it reads job data)');
    const secretKey = identity.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const secrets = [...sftp.secrets, ...dav.secrets, secretKey];
    const places = { logs: svc.logs(), redis: stored.join('\n'), api: answers.join('\n'), alerts: JSON.stringify(receiver.alerts) };
    for (const [where, text] of Object.entries(places)) {
      for (const s of secrets) assert.ok(!text.includes(s), `a secret in the ${where}`);
    }
    assert.ok(places.logs.includes('off-site copy finished and verified'));
  });
});

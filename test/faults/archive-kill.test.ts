/**
 * Fault: kill -9 of the worker that is writing an archive. Two workers and a separate API, as
 * docker-compose runs them. After the kill, stalled-job detection hands the job to the other worker,
 * which removes the dead attempt's .partial and writes the archive once. While that happens the
 * test watches BACKUP_DIR and the listing every few milliseconds:
 *   - no .partial and no half archive is ever listed (every listed archive of the run has its final
 *     size and checksum), and none is left;
 *   - nothing is pruned on the way: the oldest generation goes only after the new archive was
 *     verified (its .verify.json exists), and only once;
 *   - the set ends verified, `sha256sum -c` and GNU tar accept it, and GNU tar's extraction is
 *     byte for byte the volume (tree-snapshot.py).
 * Short lock timings keep the test fast; production uses the defaults.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertNeverListedHalf, assertSameSnapshot, prng, prngBytes, pySnapshot, watchBackups, type BackupSample } from '../helpers/faults.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive } from '../helpers/volumes.js';

const VOLUME = 'pacsdata';
const OLD = ['2024-01-01-0315', '2024-01-02-0315'].map((s) => `${VOLUME}_${s}.tar.gz`);

describe('fault: kill -9 of a worker during an archive', () => {
  let fx: Fixture;
  let api: Service;
  let workers: Service[] = [];
  let victim: Service;
  let survivor: Service;
  let stamp: string;
  let file: string;
  let archiveJobId: string;
  let partialAtKill: boolean;
  let settled: { id: string; queue: string; name: string; state: string; result: any; processedOn?: number; finishedOn?: number }[];
  let samples: BackupSample[] = [];
  let recoveredMs: number;
  const vol = () => path.join(fx.volumesDir, VOLUME);

  before(async () => {
    // One sequential gzip stream over incompressible data: slow enough to kill mid-way.
    fx = await makeFixture({ LOCK_DURATION: '2', STALLED_INTERVAL: '1', VOLUME_LOCK_TTL: '3', GZIP_PARALLEL: 'false' });
    await fs.mkdir(path.join(vol(), 'series/1'), { recursive: true });
    const rand = prng(4711);
    for (let i = 0; i < 6; i++) await fs.writeFile(path.join(vol(), `series/1/image-${i}.dcm`), prngBytes(rand, 16 * 1024 * 1024));
    await fs.writeFile(path.join(vol(), 'index.txt'), 'series 1\n');
    const old = path.join(fx.root, 'old-source');
    await fs.mkdir(old);
    await fs.writeFile(path.join(old, 'old.txt'), 'an older generation\n');
    for (const f of OLD) await gnuTarArchive(old, path.join(fx.backupDir, f));

    [api, ...workers] = await startServices(['api', fx.env], ['worker', fx.env], ['worker', fx.env]);
    const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));

    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamp = run.body.stamp;
    archiveJobId = run.body.jobs[0].archiveJobId;
    file = `${VOLUME}_${stamp}.tar.gz`;
    await waitFor(async () => {
      const j = (await http(api.url, 'GET', `/api/jobs/${archiveJobId}`)).body;
      return j.state === 'active' && j.progress?.bytesDone > 0;
    }, 60_000, 'the archive to make progress');
    const owners = workers.filter((w) => logLines(w.logs(), 'archive started').length > 0);
    assert.equal(owners.length, 1, 'one worker writes the archive');
    victim = owners[0]!;
    survivor = workers.find((w) => w !== victim)!;
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    partialAtKill = (await fs.readdir(fx.backupDir)).includes(`${file}.partial`);

    const watch = watchBackups(fx.backupDir, api.url);
    samples = watch.samples;
    try {
      settled = await waitForJobsSettled(api.url, undefined, 120_000);
    } finally {
      await watch.stop();
    }
    recoveredMs = Date.now() - killedAt;
  });
  after(async () => {
    await Promise.all([api, ...workers].map((s) => s?.stop('SIGKILL')));
    await fx?.cleanup();
  });

  it('the kill hit the archive mid-write (a .partial was left), and the other worker completed the run', (t) => {
    t.diagnostic(`recovered ${recoveredMs} ms after the kill; ${samples.length} samples of BACKUP_DIR and the listing meanwhile`);
    assert.ok(partialAtKill);
    assert.deepEqual(settled.filter((j) => j.state !== 'completed'), []);
    const finished = [victim, survivor].flatMap((w) => logLines(w.logs(), 'archive finished'));
    assert.equal(finished.length, 1);
    assert.equal(finished[0]!.pid, survivor.proc.pid);
  });

  it('never listed a .partial or a half archive, and left none', async () => {
    await assertNeverListedHalf(fx.backupDir, file, samples);
    assert.ok(samples.some((s) => s.names.includes(`${file}.partial`) || !s.names.includes(file)), 'the watch began before the archive was complete');
  });

  it('pruned nothing on the way: the oldest generation went once, only after the new archive was verified', () => {
    for (const s of samples) {
      assert.ok(s.names.includes(OLD[1]!), 'the newer old generation stays');
      if (!s.names.includes(OLD[0]!)) assert.ok(s.names.includes(`${file}.verify.json`), `${OLD[0]} was gone before ${file} was verified`);
    }
    const prunes = [victim, survivor].flatMap((w) => logLines(w.logs(), 'prune finished'));
    assert.equal(prunes.length, 1);
    assert.deepEqual(settled.find((j) => j.queue === 'prune')?.result?.removed, [OLD[0]]);
  });

  it('the set is verified, and GNU tar restores exactly the volume from it', async () => {
    const set = (await http(api.url, 'GET', `/api/backups/${stamp}`)).body;
    assert.equal(set.archives.length, 1);
    assert.equal(set.archives[0].verified?.ok, true, JSON.stringify(set.archives[0].verified));
    const { stdout } = await exec('sha256sum', ['-c', `${file}.sha256`], { cwd: fx.backupDir });
    assert.match(stdout, /: OK$/m);
    const out = path.join(fx.root, 'gnu-tar-extract');
    await fs.mkdir(out);
    await exec('tar', ['-C', out, '--numeric-owner', '-xpzf', path.join(fx.backupDir, file)]);
    assertSameSnapshot(await pySnapshot(vol()), await pySnapshot(out), "GNU tar's extraction of the archive and the volume");
  });
});

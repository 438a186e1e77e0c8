/**
 * Fault: kill -9 in the middle of an incremental archive (issue 16). A volume in incremental mode,
 * two workers and a separate API, as docker-compose runs them; the test's clock moves a minute
 * between runs.
 *   1. A full.
 *   2. An incremental over 32 MiB of new images: the worker writing it is killed with -9. The other
 *      worker takes the job over (stalled-job detection) and writes the incremental once, on the
 *      full's snapshot, which the killed attempt did not change. Meanwhile (every 25 ms) no
 *      `.partial` and no half archive is ever listed (so none as verified); no `.partial` (archive
 *      or snapshot) is left.
 *   3. An incremental whose GNU tar child is killed with -9: the job fails (ARCHIVE_ATTEMPTS=1), the
 *      run lists no archive, nothing is left, and the snapshot of the archive before is unchanged.
 *   4. The next incremental continues the chain from run 2's snapshot, so it holds run 3's changes
 *      too (new files, a deletion, a renamed directory); a restore of its set through the API reads
 *      the whole chain and brings back the volume exactly as it was at run 4 (tree-snapshot.py).
 * Short lock timings keep the test fast; production uses the defaults.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { assertNeverListedHalf, assertSameSnapshot, buildSeededVolume, prng, prngBytes, pySnapshot, requestAndConfirm, restoreFinished, watchBackups, type BackupSample, type SnapEntry } from '../helpers/faults.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { hashFile } from '../helpers/tree.js';

const execFileP = promisify(execFile);
const VOLUME = 'pacsdata';

describe('fault: kill -9 during an incremental archive', () => {
  let fx: Fixture;
  let api: Service;
  let workers: Service[] = [];
  let victim: Service;
  let survivor: Service;
  const stamps: string[] = [];
  let full = '';
  let inc1 = '';
  let fullSnarBefore = '';
  let partialAtKill = false;
  let settled2: any[] = [];
  let recoveredMs = 0;
  let samples: BackupSample[] = [];
  const vol = () => path.join(fx.volumesDir, VOLUME);
  const rand = prng(1612);

  async function startRun(): Promise<{ stamp: string; archiveJobId: string }> {
    if (stamps.length) await fx.clock.advance(60_000);
    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamps.push(run.body.stamp);
    return { stamp: run.body.stamp, archiveJobId: run.body.jobs[0].archiveJobId };
  }
  const archiveMadeProgress = (jobId: string) =>
    waitFor(async () => {
      const j = (await http(api.url, 'GET', `/api/jobs/${jobId}`)).body;
      return j.state === 'active' && j.progress?.bytesDone > 0;
    }, 60_000, 'the archive to make progress');
  const addImages = async (dir: string, n: number) => {
    await fs.mkdir(path.join(vol(), dir), { recursive: true });
    for (let i = 0; i < n; i++) await fs.writeFile(path.join(vol(), dir, `image-${i}.dcm`), prngBytes(rand, 16 * 1024 * 1024));
  };
  /**
   * The run's flow finished (its prune, the flow's root, completed or failed: awaited by id, since
   * GET /api/jobs reads the queues' states one after another and can miss a job moving between two),
   * then every job settled.
   */
  const runSettled = async (stamp: string, timeoutMs = 60_000) => {
    await waitFor(async () => {
      const r = await http(api.url, 'GET', `/api/jobs/prune-${VOLUME}-${stamp}`);
      return r.status === 200 && (r.body.state === 'completed' || r.body.state === 'failed');
    }, timeoutMs, `the prune of ${stamp} to finish`);
    return waitForJobsSettled(api.url, undefined, timeoutMs);
  };
  const setOf = async (stamp: string) => (await http(api.url, 'GET', `/api/backups/${stamp}`)).body;

  before(async () => {
    // One sequential gzip stream over incompressible data: slow enough to kill mid-way.
    fx = await makeFixture({ LOCK_DURATION: '2', STALLED_INTERVAL: '1', VOLUME_LOCK_TTL: '3', GZIP_PARALLEL: 'false' }, { clock: TEST_START });
    await buildSeededVolume(vol(), 1612, { docs: 10, docBytes: 16 * 1024, imageBytes: 256 * 1024 });
    [api, ...workers] = await startServices(['api', fx.env], ['worker', fx.env], ['worker', fx.env]);
    assert.equal((await http(api.url, 'PUT', `/api/volumes/${VOLUME}`, { mode: 'incremental', fullEvery: 7 })).status, 200);

    // 1. The full.
    const r1 = await startRun();
    await runSettled(r1.stamp);
    full = `${VOLUME}_${r1.stamp}.tar.gz`;
    assert.equal((await setOf(r1.stamp)).archives[0]?.verified?.ok, true);
    fullSnarBefore = await hashFile(path.join(fx.backupDir, `${full}.snar`));

    // 2. New images; the worker writing the incremental is killed.
    await addImages('series/2', 2);
    const r2 = await startRun();
    inc1 = `${VOLUME}_${r2.stamp}.inc.tar.gz`;
    await archiveMadeProgress(r2.archiveJobId);
    const owners = workers.filter((w) => logLines(w.logs(), 'archive started').some((l) => l.stamp === r2.stamp));
    assert.equal(owners.length, 1, 'one worker writes the archive');
    victim = owners[0]!;
    survivor = workers.find((w) => w !== victim)!;
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    partialAtKill = (await fs.readdir(fx.backupDir)).includes(`${inc1}.partial`);

    const watch = watchBackups(fx.backupDir, api.url);
    samples = watch.samples;
    try {
      settled2 = await runSettled(r2.stamp, 120_000);
    } finally {
      await watch.stop();
    }
    recoveredMs = Date.now() - killedAt;
  });
  after(async () => {
    await Promise.all([api, ...workers].map((s) => s?.stop('SIGKILL')));
    await fx?.cleanup();
  });

  it('the kill hit the incremental mid-write, and the other worker wrote it once, on the full\'s unchanged snapshot', async (t) => {
    t.diagnostic(`recovered ${recoveredMs} ms after the kill; ${samples.length} samples of BACKUP_DIR and the listing meanwhile`);
    assert.ok(partialAtKill, 'a .partial was there at the kill');
    assert.deepEqual(settled2.filter((j) => j.state !== 'completed').map((j) => [j.queue, j.failedReason]), []);
    const finished = [victim, survivor].flatMap((w) => logLines(w.logs(), 'archive finished')).filter((l) => l.stamp === stamps[1]);
    assert.equal(finished.length, 1);
    assert.equal(finished[0]!.pid, survivor.proc.pid);
    const started = logLines(survivor.logs(), 'archive started').filter((l) => l.stamp === stamps[1]);
    assert.deepEqual(started.map((l) => [l.file, l.level]), [[inc1, 1]]);
    assert.equal(await hashFile(path.join(fx.backupDir, `${full}.snar`)), fullSnarBefore, "the killed run did not touch the full's snapshot");
    const a = (await setOf(stamps[1]!)).archives[0];
    assert.deepEqual([a.file, a.level, a.basedOn, a.verified?.ok], [inc1, 1, [full], true]);
    const manifest = JSON.parse(await fs.readFile(path.join(fx.backupDir, `${inc1}.manifest.json`), 'utf8'));
    assert.deepEqual(manifest.basedOn, [{ file: full, sha256: (await fs.readFile(path.join(fx.backupDir, `${full}.sha256`), 'utf8')).slice(0, 64) }]);
  });

  it('never listed a .partial or a half archive (so none as verified either), and left none', async () => {
    await assertNeverListedHalf(fx.backupDir, inc1, samples);
    assert.ok(samples.some((s) => !s.names.includes(inc1)), 'the watch began before the archive was complete');
  });

  it('a run whose GNU tar child is killed lists nothing, leaves nothing, and the snapshot before it stays', async () => {
    const inc1Snar = await hashFile(path.join(fx.backupDir, `${inc1}.snar`));
    const before = (await fs.readdir(fx.backupDir)).sort();
    // Run 3's changes (images to keep its tar busy, and a small file); the next good run must carry
    // them, which it does only if the killed run left the snapshot as it was.
    await addImages('series/3', 2);
    await fs.writeFile(path.join(vol(), 'series/3/small.txt'), 'new before run 3\n');
    await fs.rm(path.join(vol(), 'docs/2024/03/befund-3.txt'));
    await fs.rename(path.join(vol(), 'images'), path.join(vol(), 'bilder'));
    const r3 = await startRun();
    await archiveMadeProgress(r3.archiveJobId);
    const { stdout } = await execFileP('pgrep', ['-P', String(survivor.proc.pid), '-x', 'tar']).catch(() => ({ stdout: '' }));
    const tars = stdout.split('\n').filter(Boolean);
    assert.equal(tars.length, 1, `one GNU tar child of the worker: ${stdout}`);
    process.kill(Number(tars[0]), 'SIGKILL');
    const jobs = await runSettled(r3.stamp);
    const archive = jobs.find((j) => j.id === r3.archiveJobId);
    assert.equal(archive?.state, 'failed', JSON.stringify(archive));
    assert.match(archive.failedReason, /GNU tar failed \(signal SIGKILL\)/);
    const set = await http(api.url, 'GET', `/api/backups/${r3.stamp}`);
    assert.ok(set.status === 404 || set.body.archives.length === 0, JSON.stringify(set.body));
    assert.deepEqual((await fs.readdir(fx.backupDir)).sort(), before, 'nothing of the failed run is left in BACKUP_DIR');
    assert.equal(await hashFile(path.join(fx.backupDir, `${inc1}.snar`)), inc1Snar);
  });

  it('the next incremental continues the chain with the failed run\'s changes, and a restore of it is exactly the volume', async (t) => {
    const t0 = Date.now();
    // The big images of run 3 go again (the chain stays small to restore); its other changes stay.
    for (const n of await fs.readdir(path.join(vol(), 'series/3'))) if (n.endsWith('.dcm')) await fs.rm(path.join(vol(), 'series/3', n));
    await fs.writeFile(path.join(vol(), 'bilder/after.dcm'), prngBytes(rand, 64 * 1024));
    const r4 = await startRun();
    await runSettled(r4.stamp);
    const inc2 = `${VOLUME}_${r4.stamp}.inc.tar.gz`;
    const set = await setOf(r4.stamp);
    assert.deepEqual([set.archives[0]?.file, set.archives[0]?.level, set.archives[0]?.basedOn, set.archives[0]?.verified?.ok], [inc2, 2, [full, inc1], true]);
    assert.deepEqual(set.restoreNeeds, [full, inc1, inc2]);
    const atRun4: SnapEntry[] = await pySnapshot(vol());
    const t1 = Date.now();

    // The volume moves on; the restore must bring back run 4's state exactly.
    await fs.rm(path.join(vol(), 'series/3'), { recursive: true });
    await fs.writeFile(path.join(vol(), 'later.txt'), 'after run 4\n');
    const { id } = await requestAndConfirm(api.url, { stamp: r4.stamp, skipSafetyBackup: true });
    const done = await restoreFinished(api.url, id, 90_000);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    await waitFor(async () => !(await fs.readdir(vol())).some((n) => n.startsWith('.oob-restore-')), 30_000, 'the previous data to be removed');
    t.diagnostic(`run 4 ${t1 - t0} ms, restore of the chain ${Date.now() - t1} ms`);
    assertSameSnapshot(atRun4, await pySnapshot(vol()), 'the volume restored from the chain and the volume at run 4');
    assert.ok(atRun4.some((e) => Buffer.from(e.path, 'hex').toString() === 'series/3/small.txt'), "run 3's new file is in run 4's state");
  });
});

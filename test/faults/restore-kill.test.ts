/**
 * Fault: kill -9 of the worker that runs a restore, at four points: during the extraction, during
 * the swap's first phase (current entries moving out of the way), during its second phase
 * (restored entries moving in) and after its commit, while the previous data is deleted. The
 * volume has 4,000 top-level entries, so each of these lasts long enough to be hit; the test watches the restore's
 * work directory from outside and kills the worker the moment the phase shows (its `old/`, its
 * `journal.json`, its `swapped` marker and the deletion under way), then starts a new worker, as a
 * supervisor would.
 *
 * Each time:
 *   - the restore is never run twice: one "restore started" over all workers, its job fails as
 *     stalled, and confirming the request again is refused (409);
 *   - the volume is, compared entry by entry with tree-snapshot.py, either exactly the old data
 *     (an interrupted extraction or swap is rolled back) or exactly the restored data (a committed
 *     swap is completed), never a mix;
 *   - the request (GET /api/restores/:id) says the restore was interrupted and what recovery did.
 * Short lock timings keep the test fast; production uses the defaults.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { assertSameSnapshot, prng, prngBytes, pySnapshot, requestAndConfirm, type SnapEntry } from '../helpers/faults.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startService, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';

const VOLUME = 'elexisdb';
const TOP_LEVEL = 4000;

describe('fault: kill -9 of a worker during a restore', () => {
  let fx: Fixture;
  let api: Service;
  const workers: Service[] = [];
  let worker: Service;
  let redis: Redis;
  let queue: Queue;
  let stamp: string;
  /** The volume as the backup holds it. */
  let backedUp: SnapEntry[];
  const vol = () => path.join(fx.volumesDir, VOLUME);
  const work = (id: string) => path.join(vol(), `.oob-restore-${id}`);

  /** What the user did after the backup: the data a restore replaces, and a rollback must bring back exactly. */
  async function changeAfterBackup(n: number): Promise<void> {
    for (let i = 0; i < 20; i++) await fs.rm(path.join(vol(), `f${String(i + n * 20).padStart(5, '0')}.dat`), { force: true });
    await fs.writeFile(path.join(vol(), `written-after-backup-${n}.txt`), `data ${n}\n`);
    await fs.appendFile(path.join(vol(), 'ibdata1'), Buffer.alloc(4096, n + 1));
    await fs.mkdir(path.join(vol(), `new-dir-${n}/inner`), { recursive: true });
  }

  /**
   * Kill the worker the moment `probe` holds (checked every millisecond), read what it left in the
   * volume with `evidence`, then start a new worker, as a supervisor would.
   */
  async function killWhen<T>(probe: () => boolean, what: string, evidence: () => T, timeoutMs = 60_000): Promise<T> {
    const victim = worker;
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const timer = setInterval(() => {
          if (probe()) {
            victim.proc.kill('SIGKILL');
            clearInterval(timer);
            resolve();
          } else if (Date.now() > deadline || victim.proc.exitCode !== null || victim.proc.signalCode !== null) {
            clearInterval(timer);
            reject(new Error(`${what} did not happen within ${timeoutMs} ms`));
          }
        }, 1);
      });
    } finally {
      await victim.stop('SIGKILL');
    }
    const seen = evidence();
    worker = await startService('worker', fx.env);
    workers.push(worker);
    return seen;
  }

  /** After the kill: the new worker recovers the volume; the restore's job fails as stalled, its request says so. */
  async function recovered(id: string, jobId: string): Promise<{ request: any; jobFailedReason: string }> {
    await waitFor(() => !existsSync(work(id)), 30_000, 'the recovery of the volume');
    // Until the recovery records what it did, the request shows the stalled job's own reason.
    const request = await waitFor(async () => {
      const r = (await http(api.url, 'GET', `/api/restores/${id}`)).body;
      return r.state === 'failed' && /interrupted/.test(r.failedReason) ? r : undefined;
    }, 30_000, 'the request to tell what the recovery did');
    // (failedReason is written by the same Redis script that moves the job to the failed set.)
    const job = await waitFor(async () => {
      const j = await queue.getJob(jobId);
      return j?.failedReason && (await j.getState()) === 'failed' ? j : undefined;
    }, 30_000, 'the restore job to fail');
    return { request, jobFailedReason: job.failedReason };
  }

  /** One "restore started" over every worker that ever ran, and the confirmation cannot be used again. */
  async function ranOnce(r: { id: string; token: string }): Promise<void> {
    const starts = workers.flatMap((w) => logLines(w.logs(), 'restore started')).filter((l) => l.restoreId === r.id);
    assert.equal(starts.length, 1, 'the restore started exactly once');
    const again = await http(api.url, 'POST', `/api/restores/${r.id}/confirm`, { token: r.token });
    assert.equal(again.status, 409, JSON.stringify(again.body));
  }

  before(async () => {
    fx = await makeFixture({ LOCK_DURATION: '2', STALLED_INTERVAL: '1', VOLUME_LOCK_TTL: '3', MAINTENANCE_INTERVAL: '1' });
    await fs.mkdir(vol());
    const rand = prng(1234);
    // A big file first in time (extraction takes a while), then many small top-level entries.
    await fs.writeFile(path.join(vol(), 'ibdata1'), prngBytes(rand, 32 * 1024 * 1024));
    for (let i = 0; i < TOP_LEVEL; i++) await fs.writeFile(path.join(vol(), `f${String(i).padStart(5, '0')}.dat`), `${i}\n`);
    await fs.mkdir(path.join(vol(), 'mysql'));
    await fs.writeFile(path.join(vol(), 'mysql/user.MYD'), 'users\n');
    [api, worker] = await startServices(['api', fx.env], ['worker', fx.env]);
    workers.push(worker);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('restore', { connection: redis, prefix: fx.prefix });
    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamp = run.body.stamp;
    const jobs = await waitForJobsSettled(api.url, undefined, 120_000);
    assert.deepEqual(jobs.filter((j) => j.state !== 'completed'), []);
    backedUp = await pySnapshot(vol());
  });
  after(async () => {
    await Promise.all([api, ...workers].map((s) => s?.stop('SIGKILL')));
    await queue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('during the extraction: rolled back, the volume exactly the old data', async (t) => {
    await changeAfterBackup(1);
    const old = await pySnapshot(vol());
    const r = await requestAndConfirm(api.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const tree = path.join(work(r.id), 'tree');
    const seen = await killWhen(
      () => existsSync(tree) && readdirSync(tree).length >= 100,
      'the extraction',
      () => ({ extracted: readdirSync(tree).length, old: existsSync(path.join(work(r.id), 'old')) }),
    );
    t.diagnostic(`killed with ${seen.extracted} top-level entries extracted`);
    assert.ok(seen.extracted < TOP_LEVEL && !seen.old, 'killed while extracting, before the swap');
    const { request, jobFailedReason } = await recovered(r.id, r.jobId);
    assert.match(jobFailedReason, /stalled/);
    assert.match(request.failedReason, /interrupted.*never reached the swap/);
    await ranOnce(r);
    assertSameSnapshot(old, await pySnapshot(vol()), 'the volume after a restore killed mid-extraction');
  });

  it("in the swap's first phase (current entries moving out): rolled back, the volume exactly the old data", async (t) => {
    await changeAfterBackup(2);
    const old = await pySnapshot(vol());
    // Top-level names of the current data: once one is gone from the root, phase 1 is under way.
    // (Every 250th in directory order, the order the swap moves them in: the first is seen after ~125 renames.)
    const current = readdirSync(vol()).filter((_, i) => i % 250 === 125).map((n) => path.join(vol(), n));
    const r = await requestAndConfirm(api.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const w = work(r.id);
    const seen = await killWhen(
      () => existsSync(path.join(w, 'old')) && current.some((p) => !existsSync(p)),
      'phase 1 of the swap',
      () => ({ movedOut: readdirSync(path.join(w, 'old')).length, journal: existsSync(path.join(w, 'journal.json')) }),
    );
    t.diagnostic(`killed with ${seen.movedOut} of ${old.filter((e) => e.path !== '2e' && !Buffer.from(e.path, 'hex').includes('/')).length} original top-level entries moved out`);
    assert.ok(seen.movedOut > 0 && !seen.journal, 'killed half-way through phase 1');
    const { request, jobFailedReason } = await recovered(r.id, r.jobId);
    assert.match(jobFailedReason, /stalled/);
    assert.match(request.failedReason, /interrupted.*rolled back an interrupted swap/);
    await ranOnce(r);
    assertSameSnapshot(old, await pySnapshot(vol()), 'the volume after a restore killed in phase 1 of the swap');
  });

  it("in the swap's second phase (restored entries moving in): rolled back, the volume exactly the old data", async (t) => {
    await changeAfterBackup(3);
    const old = await pySnapshot(vol());
    // Names the backup has and the current data lacks: once one is back in the root, phase 2 is under way.
    const present = new Set(readdirSync(vol()));
    const backupOnly = backedUp
      .map((e) => Buffer.from(e.path, 'hex').toString('latin1'))
      .filter((n) => n !== '.' && !n.includes('/') && !present.has(n))
      .map((n) => path.join(vol(), n));
    assert.ok(backupOnly.length >= 20);
    const r = await requestAndConfirm(api.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const w = work(r.id);
    const seen = await killWhen(
      () => existsSync(path.join(w, 'journal.json')) && backupOnly.some((p) => existsSync(p)),
      'phase 2 of the swap',
      () => ({ stillStaged: readdirSync(path.join(w, 'tree')).length, swapped: existsSync(path.join(w, 'swapped')) }),
    );
    t.diagnostic(`killed with ${seen.stillStaged} restored top-level entries not yet moved in`);
    assert.ok(seen.stillStaged > 0 && !seen.swapped, 'killed half-way through phase 2');
    const { request, jobFailedReason } = await recovered(r.id, r.jobId);
    assert.match(jobFailedReason, /stalled/);
    assert.match(request.failedReason, /interrupted.*rolled back an interrupted swap/);
    await ranOnce(r);
    assertSameSnapshot(old, await pySnapshot(vol()), 'the volume after a restore killed in phase 2 of the swap');
  });

  it('after the swap committed, while the previous data is deleted: completed, the volume exactly the restored data', async (t) => {
    await changeAfterBackup(4);
    const r = await requestAndConfirm(api.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const w = work(r.id);
    // The current top-level names end up in old/ and are deleted from there after the commit, in
    // directory order: once one of these is gone, the deletion is under way.
    const previous = readdirSync(vol()).filter((_, i) => i % 250 === 125).map((n) => path.join(w, 'old', n));
    const seen = await killWhen(
      () => existsSync(path.join(w, 'swapped')) && previous.some((p) => !existsSync(p)),
      'the deletion of the previous data',
      () => ({ left: readdirSync(w), oldLeft: existsSync(path.join(w, 'old')) ? readdirSync(path.join(w, 'old')).length : 0 }),
    );
    t.diagnostic(`killed after the commit with ${seen.oldLeft} previous top-level entries not yet deleted; ${seen.left.join(', ')} left in the work directory`);
    assert.ok(seen.left.includes('swapped') && seen.oldLeft > 0, 'killed while the previous data was deleted');
    const { request, jobFailedReason } = await recovered(r.id, r.jobId);
    assert.match(jobFailedReason, /stalled/);
    assert.match(request.failedReason, /interrupted.*the swap had completed/);
    await ranOnce(r);
    // The volume root too: the archive's mode, owner and mtime (the journal keeps them until the end).
    assertSameSnapshot(backedUp, await pySnapshot(vol()), 'the volume after a restore killed after its commit', () => ['allocated']);
  });
});

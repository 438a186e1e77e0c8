/**
 * A restore runs only once, and only when confirmed — whatever starts its job. Tried the way an
 * operator (or an attacker with the token) would: through bull-board's own HTTP API (retry one,
 * retry all, add a copy), and, below the dashboard, through BullMQ itself (what a script, a second
 * worker or a stalled re-run amounts to), so that the processor's own refusal is tested too. Every
 * time, files written after the backup must still be there afterwards.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'restore-once-token-0123456789';
const VOLUME = 'elexisdb';

describe('a restore runs only once, and only when confirmed', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  let queue: Queue;
  let stamp: string;
  const vol = () => path.join(fx.volumesDir, VOLUME);
  const api = (method: string, url: string, body?: unknown) => http(svc.url, method, url, body, TOKEN);
  /** bull-board's own API, as its buttons call it. */
  const board = (method: string, url: string, body?: unknown) => http(svc.url, method, `/admin/queues/api${url}`, body, TOKEN);

  async function request(): Promise<{ id: string; token: string }> {
    const r = await api('POST', '/api/restores', { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  }
  async function confirm(req: { id: string; token: string }): Promise<string> {
    const c = await api('POST', `/api/restores/${req.id}/confirm`, { token: req.token });
    assert.equal(c.status, 202, JSON.stringify(c.body));
    return c.body.jobId;
  }
  async function restoreFinished(id: string): Promise<any> {
    return waitFor(async () => {
      const r = (await api('GET', `/api/restores/${id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, `restore ${id} to finish`);
  }
  async function jobFinished(jobId: string, since: number): Promise<{ state: string; failedReason: string | null }> {
    return waitFor(async () => {
      const job = await queue.getJob(jobId);
      if (!job || (job.finishedOn ?? 0) < since) return undefined;
      const state = await job.getState();
      return state === 'completed' || state === 'failed' ? { state, failedReason: job.failedReason || null } : undefined;
    }, 30_000, `job ${jobId} to finish again`);
  }
  /** Data the user made after the backup: a restore that runs again would delete it. */
  async function writeNewData(label: string) {
    await fs.writeFile(path.join(vol(), `written-after-restore-${label}.txt`), `${label}\n`);
    return snapshotTree(vol());
  }
  const startedLines = (id: string) => logLines(svc.logs(), 'restore started').filter((l) => l.restoreId === id).length;

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
    await makeVolume(vol(), VOLUME);
    svc = await startService('start', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('restore', { connection: redis, prefix: fx.prefix });
    const run = await api('POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamp = run.body.stamp;
    await waitForJobsSettled(svc.url, TOKEN);
  });
  after(async () => {
    await svc?.stop();
    await queue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('the dashboard shows the restore and schedule queues read-only, even without DASHBOARD_READ_ONLY', async () => {
    const r = await board('GET', '/queues');
    assert.equal(r.status, 200);
    const byName = Object.fromEntries((r.body.queues as any[]).map((q) => [q.name, q]));
    assert.equal(byName.restore.readOnlyMode, true);
    assert.equal(byName.schedule.readOnlyMode, true);
    assert.equal(byName.archive.readOnlyMode, false, 'other queues keep their buttons (DASHBOARD_READ_ONLY is off)');
  });

  it('a completed restore: retry, retry all and a copy are refused by the dashboard, and by the processor below it', async () => {
    const req = await request();
    const jobId = await confirm(req);
    const done = await restoreFinished(req.id);
    assert.equal(done.state, 'completed', done.failedReason);
    const summary = done.summary;
    const before = await writeNewData('completed');

    // The dashboard's buttons, through its own API.
    for (const [method, url, body] of [
      ['PUT', `/queues/restore/${jobId}/retry`],
      ['PUT', '/queues/restore/retry/completed'],
      ['POST', '/queues/restore/add', { name: 'restore', data: { restoreId: req.id } }],
      ['PUT', `/queues/restore/${jobId}/clean`],
      ['PUT', '/queues/restore/clean/completed'],
    ] as [string, string, unknown?][]) {
      const r = await board(method, url, body);
      assert.equal(r.status, 405, `${method} ${url} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }

    // Below the dashboard: BullMQ's own retry of the completed job (what "retry" would have done).
    const since = Date.now();
    await (await queue.getJob(jobId))!.retry('completed');
    const retried = await jobFinished(jobId, since);
    assert.equal(retried.state, 'failed');
    assert.match(retried.failedReason!, /was run already.*a restore runs once.*nothing was done/);

    // A copy of the job under another id (the dashboard's "add", a script).
    const copy = await queue.add('restore', { restoreId: req.id }, { jobId: `copy-of-${req.id}` });
    const copied = await jobFinished(copy.id!, since);
    assert.equal(copied.state, 'failed');
    assert.match(copied.failedReason!, /is a copy.*only that job may run it.*nothing was done/);

    assertSameTree(await snapshotTree(vol()), before);
    assert.equal(startedLines(req.id), 1, 'the restore started exactly once');
    // The request still tells what happened: completed, with its summary.
    const after = (await api('GET', `/api/restores/${req.id}`)).body;
    assert.equal(after.state, 'completed');
    assert.deepEqual(after.summary, summary);
  });

  it('a failed restore cannot be retried, even once the cause is gone (retry and retry all)', async () => {
    const file = path.join(fx.backupDir, `${VOLUME}_${stamp}.tar.gz`);
    const good = await fs.readFile(file);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    await fs.writeFile(file, bad);
    const req = await request();
    let jobId: string;
    try {
      jobId = await confirm(req);
      const failed = await restoreFinished(req.id);
      assert.equal(failed.state, 'failed');
      assert.match(failed.failedReason, /verification.*nothing was changed/);
    } finally {
      await fs.writeFile(file, good);
    }
    // The archive is good again: a re-run now would replace the volume.
    const before = await writeNewData('failed');
    assert.equal((await board('PUT', `/queues/restore/${jobId}/retry`)).status, 405);
    assert.equal((await board('PUT', '/queues/restore/retry/failed')).status, 405);

    const since = Date.now();
    await queue.retryJobs({ state: 'failed' });
    const retried = await jobFinished(jobId, since);
    assert.equal(retried.state, 'failed');
    assert.match(retried.failedReason!, /was run already.*nothing was done/);
    assertSameTree(await snapshotTree(vol()), before);
    const view = (await api('GET', `/api/restores/${req.id}`)).body;
    assert.equal(view.state, 'failed');
    assert.match(view.failedReason, /verification/, 'the outcome shown is the real run, not the refused retry');
  });

  it('an unconfirmed request never runs: not through the dashboard, not as a job added by hand', async () => {
    const req = await request();
    const before = await writeNewData('unconfirmed');
    const add = await board('POST', '/queues/restore/add', { name: 'restore', data: { restoreId: req.id } });
    assert.equal(add.status, 405, JSON.stringify(add.body));

    const since = Date.now();
    // Even under the id the confirmation would use.
    const forged = await queue.add('restore', { restoreId: req.id }, { jobId: `restore-${req.id}-forged` });
    const r = await jobFinished(forged.id!, since);
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason!, /never confirmed.*nothing was done/);
    const nonsense = await queue.add('restore', { restoreId: '../../etc' }, { jobId: 'restore-nonsense' });
    assert.match((await jobFinished(nonsense.id!, since)).failedReason!, /names no restore request/);

    assertSameTree(await snapshotTree(vol()), before);
    assert.equal(startedLines(req.id), 0);
    assert.equal((await api('GET', `/api/restores/${req.id}`)).body.state, 'pending');
  });

  it('a restore that waits for a busy volume keeps its confirmation, then runs exactly once', async () => {
    const lockKey = `${fx.prefix}:oob-lock:volume:${VOLUME}`;
    // Someone else (an archive of another worker) holds the volume.
    await redis.set(lockKey, 'archive-elsewhere@token', 'PX', 120_000);
    const req = await request();
    const jobId = await confirm(req);
    try {
      await waitFor(async () => {
        const job = await queue.getJob(jobId);
        return job && (await job.getState()) === 'delayed' && job.attemptsStarted >= 1;
      }, 30_000, 'the restore to wait in the delayed set');
      const waiting = (await api('GET', `/api/restores/${req.id}`)).body;
      assert.equal(waiting.state, 'delayed');
      assert.equal(waiting.startedAt, null, 'waiting for a lock did not consume the confirmation');
    } finally {
      await redis.del(lockKey);
    }
    await fs.writeFile(path.join(vol(), 'deleted-by-the-restore.txt'), 'x');
    const done = await restoreFinished(req.id);
    assert.equal(done.state, 'completed', done.failedReason);
    assert.ok(done.startedAt);
    await assert.rejects(fs.stat(path.join(vol(), 'deleted-by-the-restore.txt')), 'the restore did run');
    assert.equal(startedLines(req.id), 1);
  });

  it('the restore history survives removing the jobs (history limits, a clean by hand)', async () => {
    const req = await request();
    const jobId = await confirm(req);
    const done = await restoreFinished(req.id);
    assert.equal(done.state, 'completed', done.failedReason);
    await queue.clean(0, 1000, 'completed');
    await queue.clean(0, 1000, 'failed');
    assert.equal(await queue.getJob(jobId), undefined, 'the job is gone');
    const view = (await api('GET', `/api/restores/${req.id}`)).body;
    assert.equal(view.state, 'completed');
    assert.deepEqual(view.summary, done.summary);
    assert.equal(view.summary.restartRequired, true);
    assert.ok(view.finishedAt);
  });
});

/**
 * Graceful shutdown: SIGTERM to a worker busy with a long archive waits SHUTDOWN_TIMEOUT for it,
 * then hands the job back to the queue (no attempt spent, no .partial left) and exits 0; a worker
 * started afterwards completes it at once, without waiting for stalled-job detection.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startService, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const VOLUME = 'pacsdata';
const ROOT = path.resolve(import.meta.dirname, '../..');

describe('graceful shutdown of a busy worker', () => {
  let fx: Fixture;
  let api: Service;
  let first: Service;
  let second: Service | undefined;
  let archiveJobId: string;
  let file: string;
  let exitCode: number | null;
  let exitedInMs: number;
  let afterExit: { state: string; attemptsMade: number; backupDir: string[] };

  before(async () => {
    // Default lock timings (60 s / 30 s): the test only passes quickly if the job is handed back,
    // not left to stalled-job detection.
    // One sequential gzip stream over 192 MiB of random data (~30 MB/s): still busy at the timeout.
    fx = await makeFixture({ SHUTDOWN_TIMEOUT: '2', WORKER_CONCURRENCY: '1', GZIP_PARALLEL: 'false' });
    const dir = path.join(fx.volumesDir, VOLUME);
    await fs.mkdir(dir);
    const fh = await fs.open(path.join(dir, 'images.bin'), 'w');
    for (let i = 0; i < 12; i++) await fh.write(randomBytes(16 * 1024 * 1024));
    await fh.close();

    [api, first] = await startServices(['api', fx.env], ['worker', fx.env]);
    const r = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    archiveJobId = r.body.jobs[0].archiveJobId;
    file = `${VOLUME}_${r.body.stamp}.tar.gz`;
    let last: unknown;
    await waitFor(
      async () => {
        const j = await http(api.url, 'GET', `/api/jobs/${archiveJobId}`);
        last = j.body;
        return j.body.state === 'active' && j.body.progress?.bytesDone > 0 ? true : undefined;
      },
      30_000,
      'the archive to make progress',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\njob: ${JSON.stringify(last)}\nworker log:\n${first.logs()}\napi log:\n${api.logs()}`);
    });

    const t0 = Date.now();
    exitCode = await first.stop('SIGTERM');
    exitedInMs = Date.now() - t0;
    const job = await http(api.url, 'GET', `/api/jobs/${archiveJobId}`);
    afterExit = { state: job.body.state, attemptsMade: job.body.attemptsMade, backupDir: await fs.readdir(fx.backupDir) };

    second = await startService('worker', fx.env);
    // Generous: one sequential gzip stream of 192 MiB, then its verify, on a machine that may be busy.
    await waitForJobsSettled(api.url, undefined, 150_000);
  });
  after(async () => {
    await Promise.all([api, first, second].map(async (s) => s?.stop('SIGKILL')));
    await fx?.cleanup();
  });

  it('exits 0 within SHUTDOWN_TIMEOUT (2 s) + a few seconds', (t) => {
    t.diagnostic(`exited ${exitedInMs} ms after SIGTERM`);
    assert.equal(exitCode, 0, first.logs());
    assert.ok(exitedInMs < 6000, `exited after ${exitedInMs} ms`);
    assert.ok(exitedInMs >= 1900, `exited after ${exitedInMs} ms: it did not wait for the job`);
  });

  it('hands the job back: waiting, no attempt spent, no .partial left', () => {
    assert.ok(logLines(first.logs(), 'archive interrupted by shutdown, job handed back to the queue').length === 1, first.logs());
    assert.equal(afterExit.state, 'waiting');
    assert.equal(afterExit.attemptsMade, 0);
    assert.deepEqual(afterExit.backupDir.filter((n) => n.startsWith(VOLUME)), []);
  });

  it('the next worker completes it once, without a stall', async () => {
    const job = await http(api.url, 'GET', `/api/jobs/${archiveJobId}`);
    assert.equal(job.body.state, 'completed');
    assert.equal(job.body.attemptsMade, 1);
    assert.equal(logLines(second!.logs(), 'archive finished').length, 1);
    assert.equal(logLines(first.logs(), 'archive finished').length, 0);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('archive', { connection: redis, prefix: fx.prefix });
    try {
      assert.equal((await queue.getJob(archiveJobId))?.stalledCounter, 0);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    const names = await fs.readdir(fx.backupDir);
    assert.deepEqual(names.filter((n) => n.includes('.partial')), []);
    const { stdout } = await exec('sha256sum', ['-c', `${file}.sha256`], { cwd: fx.backupDir });
    assert.match(stdout, /: OK$/m);
  });

  it('an idle API process exits 0 at once', async () => {
    const t0 = Date.now();
    assert.equal(await api.stop('SIGTERM'), 0);
    assert.ok(Date.now() - t0 < 3000);
  });
});

describe('shutdown steps', () => {
  it('run in order, a hanging step is given up after its limit, and the process exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/shutdown-child.ts', '2000'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('"msg":"ready"'), 20_000, 'the child to start');
      const t0 = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      const took = Date.now() - t0;
      assert.ok(took < 4000, `took ${took} ms`);
      const begun = logLines(out, 'step begins').map((l) => l.step);
      assert.deepEqual(begun, ['api', 'workers', 'redis connections', 'embedded redis']);
      assert.equal(logLines(out, 'step begins')[1]!.timeoutMs, 2000);
      assert.equal(logLines(out, 'shutdown step still busy; going on without it')[0]?.step, 'workers');
      assert.deepEqual(logLines(out, 'step ends').map((l) => l.step), ['api', 'redis connections', 'embedded redis']);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

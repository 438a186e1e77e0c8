/**
 * Fault: Redis stopped and started again under a running service (separate API and worker
 * processes, as docker-compose runs them), in the middle of a backup run: one archive is being
 * written, the other volumes' archives wait in the queue, their verify and prune jobs wait for
 * them, the job scheduler's next tick waits in the delayed set. Redis is a throwaway redis-server
 * of the test's own (a free port, AOF on, its own directory), never the shared one.
 *
 * The outage lasts until both processes noticed it (/readyz 503, the worker logged the lost
 * connection). Afterwards, without restarting either process: every job queued before the outage
 * completes (the same job ids), every archive is written once and verified, the schedule and its
 * scheduler are still there, and a backup started after the restart completes too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../../src/runtime/embedded-redis.js';
import { RUN_SCHEDULER_ID } from '../../src/stores/queues.js';
import { freePort, prng, prngBytes, startOwnRedis } from '../helpers/faults.js';
import { logLines } from '../helpers/logs.js';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, makeVolume } from '../helpers/volumes.js';

const VOLUMES = ['elexisdb', 'lucindadata', 'pacsdata'];
const SCHEDULE = { minute: '0', hour: '4', day: '*', month: '*', weekday: '1-6', keep: 4 };

interface JobView {
  id: string;
  queue: string;
  name: string;
  volume?: string;
  stamp?: string;
  state: string;
}

describe('fault: Redis stopped and restarted under a running service', () => {
  let fx: Fixture;
  let api: Service;
  let worker: Service;
  let port: number;
  let redisDir: string;
  let redis: RedisEndpoint | undefined;
  let client: Redis;
  let stamp: string;
  let queuedBefore: JobView[];
  let whileDown: { readyz: number; workerNoticed: boolean };
  let readyAgainMs: number;
  let settled: JobView[];

  before(async () => {
    port = await freePort();
    fx = await makeFixture({ REDIS_URL: `redis://127.0.0.1:${port}`, WORKER_CONCURRENCY: '1', GZIP_PARALLEL: 'false' }, { clock: TEST_START });
    redisDir = path.join(fx.root, 'own-redis');
    redis = await startOwnRedis(redisDir, port);
    // The database volume is big (written first, alphabetically): the others wait behind it.
    await fs.mkdir(path.join(fx.volumesDir, 'elexisdb'));
    await fs.writeFile(path.join(fx.volumesDir, 'elexisdb/ibdata1'), prngBytes(prng(99), 128 * 1024 * 1024));
    await makeVolume(path.join(fx.volumesDir, 'lucindadata'), 'lucindadata');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    [api, worker] = await startServices(['api', fx.env], ['worker', fx.env]);
    client = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    assert.equal((await http(api.url, 'PUT', '/api/schedule', SCHEDULE)).status, 200);

    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamp = run.body.stamp;
    queuedBefore = await waitFor(async () => {
      const jobs = (await http(api.url, 'GET', '/api/jobs?limit=1000')).body.jobs as (JobView & { progress?: { bytesDone?: number } })[];
      const big = jobs.find((j) => j.name === 'archive' && j.volume === 'elexisdb');
      const waiting = jobs.filter((j) => j.name === 'archive' && j.state === 'waiting');
      return big?.state === 'active' && (big.progress?.bytesDone ?? 0) > 0 && waiting.length === 2 ? jobs : undefined;
    }, 60_000, 'one archive running, two waiting');

    await redis.stop(); // SIGTERM: redis-server writes its AOF and exits
    redis = undefined;
    const errorsBefore = logLines(worker.logs(), 'worker error (Redis unreachable?)').length;
    const readyz = await waitFor(async () => {
      const s = (await http(api.url, 'GET', '/readyz')).status;
      return s !== 200 ? s : undefined;
    }, 10_000, 'the API to notice');
    await waitFor(() => logLines(worker.logs(), 'worker error (Redis unreachable?)').length > errorsBefore, 20_000, 'the worker to notice');
    whileDown = { readyz, workerNoticed: true };
    redis = await startOwnRedis(redisDir, port);
    const t0 = Date.now();
    await waitFor(async () => (await http(api.url, 'GET', '/readyz')).status === 200, 30_000, '/readyz to answer 200 again');
    readyAgainMs = Date.now() - t0;
    settled = await waitForJobsSettled(api.url, undefined, 120_000);
  });
  after(async () => {
    await Promise.all([api, worker].map((s) => s?.stop('SIGKILL')));
    client?.disconnect();
    await redis?.stop();
    await fx?.cleanup();
  });

  it('both processes noticed the outage and came back by themselves', (t) => {
    t.diagnostic(`ready again ${readyAgainMs} ms after redis-server was back`);
    assert.deepEqual(whileDown, { readyz: 503, workerNoticed: true });
    for (const s of [api, worker]) assert.deepEqual([s.proc.exitCode, s.proc.signalCode], [null, null]);
  });

  it('every job queued before the outage completed, each archive once, verified', async (t) => {
    const byId = new Map(settled.map((j) => [j.id, j]));
    const lost = queuedBefore.filter((j) => j.queue !== 'schedule' && byId.get(j.id)?.state !== 'completed');
    t.diagnostic(`${queuedBefore.filter((j) => j.queue !== 'schedule').length} jobs queued or running at the outage, ${lost.length} not completed afterwards`);
    assert.deepEqual(lost, []);
    assert.deepEqual(settled.filter((j) => j.state !== 'completed' && j.queue !== 'schedule'), []);
    assert.equal(logLines(worker.logs(), 'archive finished').length, VOLUMES.length);
    const set = (await http(api.url, 'GET', `/api/backups/${stamp}`)).body;
    assert.deepEqual(set.archives.map((a: any) => [a.volume, a.verified?.ok]).sort(), VOLUMES.map((v) => [v, true]));
    for (const v of VOLUMES) {
      const { stdout } = await exec('sha256sum', ['-c', `${v}_${stamp}.tar.gz.sha256`], { cwd: fx.backupDir });
      assert.match(stdout, /: OK$/m);
    }
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.includes('.partial')), []);
  });

  it('kept the schedule and its job scheduler', async () => {
    const s = (await http(api.url, 'GET', '/api/schedule')).body;
    assert.deepEqual([s.minute, s.hour, s.weekday, s.keep, s.enabled], [SCHEDULE.minute, SCHEDULE.hour, SCHEDULE.weekday, SCHEDULE.keep, true]);
    const queue = new Queue('schedule', { connection: client, prefix: fx.prefix });
    try {
      const run = (await queue.getJobSchedulers()).find((j) => j.key === RUN_SCHEDULER_ID);
      assert.equal(run?.pattern, '0 4 * * 1-6');
      assert.ok((await queue.getDelayedCount()) >= 1, 'the next tick still waits');
    } finally {
      await queue.close();
    }
  });

  it('a backup started after the restart completes', async () => {
    // A set per minute: the first run's minute is taken, so the service's clock moves to the next one.
    await fx.clock.advance(60_000);
    const r = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const run = r.body;
    const jobs = await waitForJobsSettled(api.url, undefined, 120_000);
    assert.deepEqual(jobs.filter((j) => j.stamp === run.stamp && j.state !== 'completed'), []);
    const set = (await http(api.url, 'GET', `/api/backups/${run.stamp}`)).body;
    assert.deepEqual(set.archives.map((a: any) => [a.volume, a.verified?.ok]).sort(), VOLUMES.map((v) => [v, true]));
  });
});

/**
 * Redis restart under a running all-in-one process: its own redis-server (AOF on, a free port, a
 * temp dir) is stopped and started again. The schedule and the job scheduler survive in the AOF,
 * the API is ready again within seconds without restarting the process, and the worker runs a
 * backup started after the restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ensureRedis, type RedisEndpoint } from '../../src/runtime/embedded-redis.js';
import { createLogger } from '../../src/runtime/logger.js';
import { RUN_SCHEDULER_ID } from '../../src/stores/queues.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec, makeVolume } from '../helpers/volumes.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const SCHEDULE = { minute: '0', hour: '4', day: '*', month: '*', weekday: '1-6', keep: 4 };

describe('Redis restart under a running service', () => {
  let fx: Fixture;
  let svc: Service;
  let port: number;
  let redisDir: string;
  let redis: RedisEndpoint | undefined;
  let client: Redis;
  let queue: Queue;
  const logger = createLogger('silent');
  const startRedis = async () => {
    redis = await ensureRedis({ dataDir: redisDir, logger, port });
    assert.ok(redis.embedded, `something else answers on port ${port}`);
  };
  let whileDown: { readyz: number; healthz: number };
  let readyAgainInMs: number;
  let schedulersBefore: string[];

  before(async () => {
    port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    fx = await makeFixture({ REDIS_URL: url });
    redisDir = path.join(fx.root, 'own-redis');
    await startRedis();
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('start', fx.env);
    client = new Redis(url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    queue = new Queue('schedule', { connection: client, prefix: fx.prefix });

    const put = await http(svc.url, 'PUT', '/api/schedule', SCHEDULE);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    schedulersBefore = (await queue.getJobSchedulers()).map((j) => j.key).sort();
    assert.ok(schedulersBefore.includes(RUN_SCHEDULER_ID), JSON.stringify(schedulersBefore));

    await redis!.stop(); // SIGTERM: redis-server writes its AOF and exits
    redis = undefined;
    const [readyz, healthz] = await Promise.all([http(svc.url, 'GET', '/readyz'), http(svc.url, 'GET', '/healthz')]);
    whileDown = { readyz: readyz.status, healthz: healthz.status };
    // Long enough for the clients' reconnect back-off to grow (up to 5 s between attempts).
    await new Promise((r) => setTimeout(r, 3000));
    await startRedis();
    const t0 = Date.now();
    await waitFor(async () => (await http(svc.url, 'GET', '/readyz')).status === 200, 20_000, '/readyz to answer 200 again');
    readyAgainInMs = Date.now() - t0;
  });
  after(async () => {
    if (process.env.OOB_TEST_DUMP_LOGS) await fs.writeFile(process.env.OOB_TEST_DUMP_LOGS, svc?.logs() ?? '');
    await svc?.stop('SIGKILL');
    await queue?.close().catch(() => undefined);
    client?.disconnect();
    await redis?.stop();
    await fx?.cleanup();
  });

  it('answers /healthz but not /readyz while Redis is down', () => {
    assert.deepEqual(whileDown, { readyz: 503, healthz: 200 });
  });

  it('is ready again within seconds, in the same process', (t) => {
    t.diagnostic(`ready again ${readyAgainInMs} ms after redis-server was back`);
    assert.ok(readyAgainInMs < 10_000);
    assert.equal(svc.proc.exitCode, null);
    assert.equal(svc.proc.signalCode, null);
  });

  it('keeps the schedule and its job scheduler', async () => {
    const s = await http(svc.url, 'GET', '/api/schedule');
    assert.equal(s.status, 200);
    assert.deepEqual({ ...s.body, cron: undefined, nextRuns: undefined, timezone: undefined, enabled: undefined, paused: undefined }, {
      ...SCHEDULE,
      // No LOCAL_RETENTION; the schedule came through the restart, no problem to name.
      localRetention: null,
      problem: null,
      cron: undefined,
      nextRuns: undefined,
      timezone: undefined,
      enabled: undefined,
      paused: undefined,
    });
    assert.equal(s.body.enabled, true);
    assert.deepEqual(s.body.paused, []);
    const schedulers = await queue.getJobSchedulers();
    assert.deepEqual(schedulers.map((j) => j.key).sort(), schedulersBefore);
    const run = schedulers.find((j) => j.key === RUN_SCHEDULER_ID);
    assert.ok(run, JSON.stringify(schedulers));
    assert.equal(run.pattern, '0 4 * * 1-6');
    // The scheduler's next run is still waiting in the delayed set.
    assert.ok((await queue.getDelayedCount()) >= 1);
  });

  it('runs a backup started after the restart (the worker reconnected)', async () => {
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const jobs = await waitForJobsSettled(svc.url, undefined, 30_000);
    const bad = jobs.filter((j) => j.state !== 'completed');
    assert.deepEqual(bad, [], JSON.stringify(bad));
    const file = `elexisdb_${r.body.stamp}.tar.gz`;
    const { stdout } = await exec('sha256sum', ['-c', `${file}.sha256`], { cwd: fx.backupDir });
    assert.match(stdout, /: OK$/m);
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.partial')), []);
  });
});

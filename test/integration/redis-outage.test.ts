/**
 * The API while Redis is away, against the real all-in-one process and a redis-server of the test's
 * own: stopped, then frozen (SIGSTOP). Every route that needs Redis answers 503 `redis_unavailable`
 * within 2 s instead of hanging, the routes that do not (listing backups, the probes) still answer,
 * and nothing a client was told 503 about happens once Redis is back: no run, no changed schedule.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { request } from '../helpers/raw-http.js';
import { http, makeFixture, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { ThrowawayRedis } from '../helpers/throwaway-redis.js';
import { gnuTarArchive, makeVolume } from '../helpers/volumes.js';

const SCHEDULE = { minute: '0', hour: '4', day: '*', month: '*', weekday: '1-6', keep: 4 };
const CHANGED = { ...SCHEDULE, minute: '30', keep: 9 };
const LIMIT_MS = 2000;
const UUID = '0b9a3c55-6d59-4c8f-9a43-3f2f1f0e9a11';

interface Probe {
  method: string;
  path: string;
  body?: string;
  type?: string;
}

/** Every route that needs Redis, each with a request that would change something if it ran. */
const NEEDS_REDIS: Probe[] = [
  { method: 'GET', path: '/api/schedule' },
  { method: 'PUT', path: '/api/schedule', body: JSON.stringify(CHANGED) },
  { method: 'DELETE', path: '/api/schedule' },
  { method: 'GET', path: '/api/verify-schedule' },
  { method: 'PUT', path: '/api/verify-schedule', body: JSON.stringify({ minute: '1', hour: '1', day: '*', month: '*', weekday: '*' }) },
  { method: 'DELETE', path: '/api/verify-schedule' },
  { method: 'POST', path: '/api/backups', body: '{}' },
  { method: 'POST', path: '/api/backups' },
  { method: 'POST', path: '/api/backups/2026-01-01-0315/verify' },
  { method: 'GET', path: '/api/jobs' },
  { method: 'GET', path: '/api/jobs/some-job' },
  { method: 'POST', path: '/api/restores', body: JSON.stringify({ stamp: '2026-01-01-0315' }) },
  { method: 'POST', path: '/api/restores/sql', body: 'CREATE TABLE t (id INT);\n', type: 'application/sql' },
  { method: 'POST', path: `/api/restores/${UUID}/confirm`, body: JSON.stringify({ token: 'x' }) },
  { method: 'GET', path: `/api/restores/${UUID}` },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/admin/queues/api/queues' },
];

interface Timed {
  probe: Probe;
  status: number;
  code: string | undefined;
  ms: number;
}

async function timed(base: string, probe: Probe): Promise<Timed> {
  const t0 = performance.now();
  const headers: Record<string, string> = {};
  if (probe.body !== undefined) headers['content-type'] = probe.type ?? 'application/json';
  const r = await request(base, { method: probe.method, path: probe.path, headers, body: probe.body, timeoutMs: 10_000 }).catch((err: Error) => ({
    status: 0,
    json: { error: { code: err.message } },
  }));
  return { probe, status: r.status, code: r.json?.error?.code, ms: performance.now() - t0 };
}

function report(results: Timed[]): string {
  return results.map((r) => `${r.probe.method} ${r.probe.path}: ${r.status} ${r.code ?? ''} in ${r.ms.toFixed(0)} ms`).join('\n');
}

describe('the API while Redis is down or frozen', () => {
  let fx: Fixture;
  let redis: ThrowawayRedis;
  let svc: Service;
  let client: Redis;

  /** What must not change: no run claimed or queued, the schedules as saved, no file written. */
  const state = async () => {
    return {
      jobs: ((await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as { queue: string; id: string; state: string }[]).map((j) => `${j.queue} ${j.id} ${j.state}`).sort(),
      claims: (await client.keys(`${fx.prefix}:oob-run:*`)).length,
      restoreRequests: (await client.keys(`${fx.prefix}:oob-restore:*`)).length,
      schedule: (await http(svc.url, 'GET', '/api/schedule')).body,
      verifySchedule: (await http(svc.url, 'GET', '/api/verify-schedule')).body,
      files: (await fs.readdir(fx.backupDir)).filter((n) => n !== 'uploads'),
      uploads: await fs.readdir(path.join(fx.backupDir, 'uploads')).catch(() => []),
    };
  };

  before(async () => {
    fx = await makeFixture();
    redis = await ThrowawayRedis.start(path.join(fx.root, 'own-redis'));
    fx.env.REDIS_URL = redis.url;
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    // A set in BACKUP_DIR: its listing must not need Redis (the copies it would show are in Redis).
    await gnuTarArchive(path.join(fx.volumesDir, 'elexisdb'), path.join(fx.backupDir, 'elexisdb_2024-01-01-0315.tar.gz'));
    svc = await startService('start', fx.env);
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    const put = await http(svc.url, 'PUT', '/api/schedule', SCHEDULE);
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    redis?.thaw();
    await svc?.stop('SIGKILL');
    client?.disconnect();
    await redis?.stop();
    await fx?.cleanup();
  });

  it('stopped: every route that needs Redis answers 503 within 2 s, and none of it happens after Redis is back', async (t) => {
    const before = await state();
    assert.equal(before.claims, 0);
    await redis.stop();
    const results: Timed[] = [];
    for (const probe of NEEDS_REDIS) results.push(await timed(svc.url, probe));
    t.diagnostic(report(results));
    for (const r of results) {
      assert.equal(r.status, 503, `${r.probe.method} ${r.probe.path}: ${r.status} ${r.code}`);
      assert.equal(r.code, 'redis_unavailable', `${r.probe.method} ${r.probe.path}`);
      assert.ok(r.ms < LIMIT_MS, `${r.probe.method} ${r.probe.path} took ${r.ms} ms`);
    }
    t.diagnostic(`slowest 503 with Redis stopped: ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms`);
    // Said as one warning per 10 s, not as an error line per request ("request failed" is for bugs).
    const lines = svc.logs().split('\n');
    assert.ok(lines.some((l) => l.includes('answered 503: Redis unavailable')), 'the outage is said in the log');
    assert.deepEqual(lines.filter((l) => l.includes('"request failed"')), [], 'a Redis outage logged as failed requests');

    // What needs no Redis still works: the listing (from BACKUP_DIR), liveness, the dashboard page.
    const listing = await http(svc.url, 'GET', '/api/backups');
    assert.equal(listing.status, 200, JSON.stringify(listing.body));
    assert.deepEqual(listing.body.sets.map((x: { stamp: string }) => x.stamp), ['2024-01-01-0315']);
    assert.equal((await http(svc.url, 'GET', '/api/backups/2024-01-01-0315')).status, 200);
    assert.equal((await http(svc.url, 'GET', '/healthz')).status, 200);
    assert.equal((await http(svc.url, 'GET', '/readyz')).status, 503);
    assert.equal((await request(svc.url, { path: '/admin/queues' })).status, 200);

    await redis.start();
    // /readyz PINGs on the API's own connection: once it answers, anything that connection had
    // kept for later would have been sent before.
    await waitFor(async () => (await http(svc.url, 'GET', '/readyz')).status === 200, 20_000, '/readyz after the restart');
    assert.deepEqual(await state(), before);
  });

  it('frozen: 503 within 2 s too, and a write the client was refused is not applied when Redis wakes up', async (t) => {
    const before = await state();
    redis.freeze();
    let results: Timed[];
    try {
      results = await Promise.all(NEEDS_REDIS.map((probe) => timed(svc.url, probe)));
    } finally {
      redis.thaw();
    }
    t.diagnostic(report(results));
    for (const r of results) {
      assert.equal(r.status, 503, `${r.probe.method} ${r.probe.path}: ${r.status} ${r.code}`);
      assert.equal(r.code, 'redis_unavailable');
      assert.ok(r.ms < LIMIT_MS, `${r.probe.method} ${r.probe.path} took ${r.ms} ms`);
    }
    t.diagnostic(`slowest 503 with Redis frozen: ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms`);
    await waitFor(async () => (await http(svc.url, 'GET', '/readyz')).status === 200, 20_000, '/readyz after the thaw');
    const afterThaw = await state();
    assert.deepEqual(afterThaw, before);
    assert.deepEqual(afterThaw.schedule.minute, SCHEDULE.minute);
  });

  it('works normally again: "run now" is accepted and runs', async () => {
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitFor(async () => (await http(svc.url, 'GET', `/api/backups/${r.body.stamp}`)).status === 200, 30_000, 'the archive of the run');
  });
});

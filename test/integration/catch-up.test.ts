/**
 * Missed scheduled runs: a run that stands in for a missed tick is stamped with the minute it ran
 * (its data is from then), names the tick as `catchUpFor` in its manifests and in the listing, and
 * runs once however many processes notice the missed tick. A tick from before the schedule existed
 * is not caught up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, REDIS_URL, startService, startServices, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const archivesIn = async (dir: string) => (await fs.readdir(dir)).filter((n) => n.endsWith('.tar.gz')).sort();
/** A job's return value once it completed; fails the test with its reason if it failed. */
async function finished(queue: Queue, id: string): Promise<any> {
  const job = await waitFor(async () => {
    const j = await queue.getJob(id);
    return j?.finishedOn ? j : undefined;
  }, 30_000, `job ${id} to finish`);
  assert.equal(job.failedReason ?? '', '', 'the job did not fail');
  return job.returnvalue;
}
const manifest = async (dir: string, file: string) => JSON.parse(await fs.readFile(path.join(dir, `${file}.manifest.json`), 'utf8'));

describe('catch-up at start of a missed scheduled run', () => {
  let fx: Fixture;
  const services: Service[] = [];

  before(async () => {
    fx = await makeFixture({ CATCH_UP: '1' }, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    // A schedule that last fired on 1 January and has existed since 2020, stored while no process ran.
    const redis = new Redis(REDIS_URL);
    await redis.set(`${fx.prefix}:oob-settings:schedule`, JSON.stringify({ minute: '0', hour: '0', day: '1', month: '1', weekday: '*', keep: 5, enabled: true }));
    await redis.set(`${fx.prefix}:oob-settings:schedule-since`, '2020-01-01T00:00:00.000Z');
    redis.disconnect();
  });
  after(async () => {
    for (const s of services) await s.stop();
    await fx?.cleanup();
  });

  it('runs once, even with two processes starting, stamped with the minute it ran and catchUpFor the missed tick', async () => {
    const [a, b] = await startServices(['start', fx.env], ['worker', fx.env]);
    services.push(a!, b!);
    const missed = '2030-01-01-0000';
    await waitFor(async () => (await archivesIn(fx.backupDir)).length > 0, 30_000, 'the catch-up archive');
    await waitForJobsSettled(a!.url, undefined);
    const archives = await archivesIn(fx.backupDir);
    assert.equal(archives.length, 1, archives.join());
    const stamp = /^elexisdb_(.+)\.tar\.gz$/.exec(archives[0]!)![1]!;
    assert.notEqual(stamp, missed, 'not named after the missed tick');
    assert.equal(stamp, fx.clock.stamp(), 'stamped with the minute it ran');
    assert.equal((await manifest(fx.backupDir, archives[0]!)).catchUpFor, missed);
    const set = (await http(a!.url, 'GET', `/api/backups/${stamp}`)).body;
    assert.equal(set.catchUpFor, missed);
    assert.equal(set.archives[0].catchUpFor, missed);
    const logs = a!.logs() + b!.logs();
    assert.equal(logs.match(/catch-up run started/g)?.length, 1, 'logged as a catch-up, once');
  });
});

describe('no catch-up of a tick from before the schedule existed', () => {
  let fx: Fixture;
  let svc: Service;
  before(async () => {
    fx = await makeFixture({ CATCH_UP: '1' });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('a fresh install makes no backup at start (the default schedule\'s last tick was before it existed)', async () => {
    // The catch-up check runs before the worker reports "workers started", so it has decided.
    const decided = logLines(svc.logs(), 'no catch-up: the last tick was before the schedule existed');
    assert.equal(decided.length, 1, svc.logs());
    assert.deepEqual(await archivesIn(fx.backupDir), []);
    const jobs = await http(svc.url, 'GET', '/api/jobs');
    assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
    assert.deepEqual(jobs.body.jobs.filter((j: any) => j.queue !== 'schedule'), []);
  });
});

describe('a scheduled run that starts late', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  let queue: Queue;
  before(async () => {
    fx = await makeFixture({ CATCH_UP: '1' }, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('start', fx.env);
    // The stored schedule's own ticks play no part here.
    assert.equal((await http(svc.url, 'DELETE', '/api/schedule')).status, 200);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('schedule', { connection: redis, prefix: fx.prefix });
  });
  after(async () => {
    await svc?.stop();
    await queue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('is stamped with the minute it runs, records the tick as catchUpFor, and a second job for that tick is skipped', async () => {
    // What the scheduler leaves behind when the machine was off at a tick three minutes ago.
    const tickAt = fx.clock.now().getTime() - 3 * 60_000;
    const tick = '2030-06-12-1017';
    const now = fx.clock.stamp();
    const job = await queue.add('run', { trigger: 'schedule' }, { timestamp: tickAt });
    const result = await finished(queue, job.id!);
    assert.equal(result.stamp, now);
    await waitForJobsSettled(svc.url, undefined);
    const file = `elexisdb_${now}.tar.gz`;
    assert.deepEqual(await archivesIn(fx.backupDir), [file]);
    assert.equal((await manifest(fx.backupDir, file)).catchUpFor, tick);
    const listed = (await http(svc.url, 'GET', '/api/backups')).body.sets;
    assert.deepEqual(listed.map((s: any) => [s.stamp, s.catchUpFor]), [[now, tick]]);

    const again = await queue.add('run', { trigger: 'schedule' }, { timestamp: tickAt });
    const skipped = await finished(queue, again.id!);
    assert.equal(skipped.skipped, true);
    assert.match(skipped.reason, new RegExp(`stands in for the missed tick ${tick}`));
    assert.deepEqual(await archivesIn(fx.backupDir), [file]);
  });
});

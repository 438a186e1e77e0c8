/**
 * bull-board's own API (what its "add", "duplicate", "update data" and "promote" buttons call) with
 * bodies BullMQ threw for (500) or stored as they came: each is a 4xx in bull-board's error shape
 * (its `key` for its UI) with our `code` and `message`, and nothing is added or changed. A restore
 * job cannot be added, edited, promoted, re-prioritised or re-run through any of bull-board's
 * endpoints, nor pulled into a flow from another queue.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, REDIS_URL, restoreAndWait, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const VOLUME = 'elexisdb';

describe("bull-board's API refuses what BullMQ would choke on or store unchecked", () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  const queues: Record<string, Queue> = {};
  let stamp = '';
  const board = (method: string, url: string, body?: unknown) => http(svc.url, method, `/admin/queues/api${url}`, body);
  const counts = async () => JSON.stringify(await Promise.all(['archive', 'verify', 'restore'].map((q) => queues[q]!.getJobCounts())));

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, VOLUME), VOLUME);
    svc = await startService('start', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    for (const q of ['archive', 'verify', 'restore']) queues[q] = new Queue(q, { connection: redis, prefix: fx.prefix });
    stamp = await runNowAndSettle(svc.url);
  });
  after(async () => {
    await svc?.stop();
    await Promise.all(Object.values(queues).map((q) => q.close()));
    redis?.disconnect();
    await fx?.cleanup();
  });

  function assertRefused(r: { status: number; body: any }, status: number, code: string, field: string, what: string) {
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, code, what);
    assert.equal(r.body.error.field, field, what);
    assert.equal(typeof r.body.error.key, 'string', `${what}: bull-board's key for its UI`);
    assert.match(r.body.error.message, /nothing was (added|changed)/, what);
  }

  it('"add" with options BullMQ threw for or would store as they came: 400 naming the option, nothing added', async () => {
    const data = { volume: VOLUME, stamp, file: `${VOLUME}_${stamp}.tar.gz`, kind: 'volume' };
    const before = await counts();
    const cases: [object, string][] = [
      [{ delay: 'x' }, 'options.delay'],
      [{ delay: -5 }, 'options.delay'],
      [{ delay: 1e300 }, 'options.delay'],
      [{ attempts: -1 }, 'options.attempts'],
      [{ attempts: 'x' }, 'options.attempts'],
      [{ repeat: { every: 1000 } }, 'options.repeat'],
      [{ repeat: { pattern: '* * * * *' } }, 'options.repeat'],
      [{ jobId: 'a:b' }, 'options.jobId'], // BullMQ: 500 "Custom Id cannot contain :"
      [{ jobId: '123' }, 'options.jobId'], // 500 "Custom Id cannot be integers"
      [{ jobId: 5 }, 'options.jobId'], // 500 "jobId.startsWith is not a function"
      [{ priority: 1.5 }, 'options.priority'], // 500 "Priority should not be float"
      [{ priority: 1e12 }, 'options.priority'],
      [{ parent: { id: 'x', queue: `${fx.prefix}:prune` } }, 'options.parent'], // 500 "Missing key for parent job"
      [{ debounce: { id: 'x' } }, 'options.debounce'], // 500
      [{ sizeLimit: 1 }, 'options.sizeLimit'], // 500
      [{ backoff: 'x' }, 'options.backoff'],
      [{ removeOnComplete: 'x' }, 'options.removeOnComplete'],
      [{ timestamp: 'x' }, 'options.timestamp'],
    ];
    for (const [options, field] of cases) {
      assertRefused(await board('POST', '/queues/verify/add', { name: 'verify', data, options }), 400, 'invalid_job_options', field, JSON.stringify(options));
    }
    assertRefused(await board('POST', '/queues/verify/add', { name: 'verify', data, options: 'x' }), 400, 'invalid_job_options', 'options', 'options "x"');
    assert.equal(await counts(), before, 'nothing was added');
  });

  it('"add" and "update data" with data no processor could run: 400, nothing added or changed', async () => {
    const before = await counts();
    for (const data of [1, 'x', null, [1], { restoreId: 'x' }, { volume: '../etc', stamp }, { volume: VOLUME, stamp: 'yesterday' }]) {
      assertRefused(await board('POST', '/queues/archive/add', { name: 'restore', data }), 400, 'invalid_job_data', 'data', `add ${JSON.stringify(data)}`);
    }
    const r = await board('POST', '/queues/archive/add', { name: 'archive', data: { volume: VOLUME, stamp, pad: 'a'.repeat(70_000) } });
    assertRefused(r, 413, 'too_large', 'body', 'huge data');
    const jobId = `archive-${VOLUME}-${stamp}`;
    const original = (await queues.archive!.getJob(jobId))!.data;
    for (const jobData of [1, 'x', null, [1], {}, { volume: 'a/b', stamp }]) {
      assertRefused(await board('PATCH', `/queues/archive/${jobId}/update-data`, { jobData }), 400, 'invalid_job_data', 'jobData', `update ${JSON.stringify(jobData)}`);
    }
    assert.deepEqual((await queues.archive!.getJob(jobId))!.data, original, 'the job keeps its data');
    assert.equal(await counts(), before, 'nothing was added');
  });

  it('"duplicate" of a job keeps its id: 409 instead of a 200 that added nothing; without the id it adds', async () => {
    const verify = (await board('GET', `/queues/verify/verify-${VOLUME}-${stamp}`)).body.job;
    const { parent: _parent, failParentOnFailure: _f, jobId: _id, ...rest } = verify.opts;
    const dup = await board('POST', '/queues/verify/add', { name: verify.name, data: verify.data, options: { ...rest, jobId: verify.id } });
    assertRefused(dup, 409, 'job_exists', 'options.jobId', 'duplicate with its id');
    const flow = await board('POST', '/queues/verify/add', { name: verify.name, data: verify.data, options: { ...rest, parent: verify.opts.parent ?? { id: 'x', queue: 'y' } } });
    assertRefused(flow, 400, 'invalid_job_options', 'options.parent', 'duplicate with its parent');
    const added = await board('POST', '/queues/verify/add', { name: verify.name, data: verify.data, options: { ...rest, delay: 3_600_000 } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.status, 'delayed');
    // "promote" of a job that is not delayed: BullMQ threw (500); of a delayed one it works.
    const promoteDone = await board('PUT', `/queues/verify/verify-${VOLUME}-${stamp}/promote`);
    assertRefused(promoteDone, 400, 'job_not_delayed', 'jobId', 'promote completed');
    assert.equal(promoteDone.body.error.key, 'ERRORS.JOB_NOT_DELAYED');
    assert.deepEqual(promoteDone.body.error.options, { status: 'completed' });
    assert.equal((await board('PUT', `/queues/verify/${added.body.job.id}/promote`)).status, 204);
    assert.equal((await board('PUT', '/queues/verify/no-such-job/promote')).status, 404);
  });

  it("a queue's global concurrency, rate limit and a job's new run time: absurd values 400 in bull-board's shape, sane ones set", async () => {
    const meta = () => queues.archive!.getGlobalConcurrency().then(async (c) => JSON.stringify([c, await queues.archive!.getGlobalRateLimit()]));
    const unchanged = await meta();
    for (const concurrency of [-1, 1.5, 1e12, 'x'.repeat(10_000), '5', null, true]) {
      const r = await board('PUT', '/queues/archive/concurrency', { concurrency });
      assertRefused(r, 400, 'invalid_concurrency', 'concurrency', `concurrency ${JSON.stringify(concurrency).slice(0, 20)}`);
      assert.equal(r.body.error.key, 'ERRORS.INVALID_CONCURRENCY');
    }
    const limits: [object, string][] = [
      [{ max: 1, duration: 1e12 }, 'duration'], // one archive in 31 years: the queue would stand still
      [{ max: 1, duration: 0 }, 'duration'],
      [{ max: 1, duration: -5 }, 'duration'],
      [{ max: 1, duration: 'x'.repeat(10_000) }, 'duration'],
      [{ max: 1 }, 'duration'],
      [{ max: 0, duration: 1000 }, 'max'],
      [{ max: -1, duration: 1000 }, 'max'],
      [{ max: 1e12, duration: 1000 }, 'max'],
      [{ max: 2.5, duration: 1000 }, 'max'],
      [{ max: '5', duration: 1000 }, 'max'],
    ];
    for (const [body, field] of limits) {
      const r = await board('PUT', '/queues/archive/rate-limit', body);
      assertRefused(r, 400, 'invalid_rate_limit', field, `rate limit ${JSON.stringify(body).slice(0, 40)}`);
      assert.equal(r.body.error.key, 'ERRORS.INVALID_RATE_LIMIT');
    }
    const nan = await fetch(`${svc.url}/admin/queues/api/queues/archive/concurrency`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"concurrency": NaN}' });
    assert.equal(nan.status, 400);
    assert.equal(((await nan.json()) as any).error.code, 'invalid_json');
    assert.equal(await meta(), unchanged, 'nothing was set');

    // A delayed job moved to 31 years from now would never run; to an hour from now it is.
    const added = await board('POST', '/queues/verify/add', { name: 'verify', data: { volume: VOLUME, stamp, file: `${VOLUME}_${stamp}.tar.gz`, kind: 'volume' }, options: { delay: 60_000 } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const id = String(added.body.job.id);
    for (const runAt of [Date.now() + 1e12, 'x', null]) {
      const r = await board('PATCH', `/queues/verify/${id}/delay`, { runAt });
      assertRefused(r, 400, 'invalid_run_at', 'runAt', `runAt ${runAt}`);
      assert.equal(r.body.error.key, 'ERRORS.INVALID_RUN_AT');
    }
    assert.equal((await board('PATCH', `/queues/verify/${id}/delay`, { runAt: Date.now() + 3_600_000 })).status, 200);
    await queues.verify!.remove(id);

    // Sane values are set, and 0 / null remove the limits again (bull-board's meaning).
    assert.equal((await board('PUT', '/queues/archive/concurrency', { concurrency: 2 })).status, 200);
    assert.equal((await board('PUT', '/queues/archive/rate-limit', { max: 10, duration: 60_000 })).status, 200);
    assert.deepEqual([await queues.archive!.getGlobalConcurrency(), await queues.archive!.getGlobalRateLimit()], [2, { max: 10, duration: 60_000 }]);
    assert.equal((await board('PUT', '/queues/archive/concurrency', { concurrency: 0 })).status, 200);
    assert.equal((await board('PUT', '/queues/archive/rate-limit', { max: null })).status, 200);
    assert.equal(await meta(), unchanged, 'the limits are gone again');
  });

  it('a restore cannot be added, edited, promoted, re-run or pulled into a flow through any bull-board endpoint', async () => {
    const done = await restoreAndWait(svc.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const jobId = `restore-${done.id}`;
    const before = await counts();
    const calls: [string, string, unknown?][] = [
      ['POST', '/queues/restore/add', { name: 'restore', data: { restoreId: done.id } }],
      ['PUT', `/queues/restore/${jobId}/retry`],
      ['PUT', '/queues/restore/retry/completed'],
      ['PUT', `/queues/restore/${jobId}/promote`],
      ['PUT', '/queues/restore/promote'],
      ['PATCH', `/queues/restore/${jobId}/update-data`, { jobData: { restoreId: done.id } }],
      ['PATCH', `/queues/restore/${jobId}/delay`, { runAt: 0 }],
      ['PATCH', `/queues/restore/${jobId}/priority`, { priority: 1 }],
      ['PUT', `/queues/restore/${jobId}/remove-unprocessed-children`],
      ['PUT', `/queues/restore/${jobId}/clean`],
      ['PUT', '/queues/restore/clean/completed'],
      ['PUT', '/queues/restore/empty'],
      ['PUT', '/queues/restore/obliterate', { force: true }],
      ['PUT', '/queues/restore/pause'],
      ['PUT', '/queues/restore/concurrency', { concurrency: 5 }],
      ['PUT', '/queues/restore/rate-limit', { max: 1, duration: 1000 }],
      ['PUT', '/queues/restore/job-schedulers/x/run'],
    ];
    for (const [method, url, body] of calls) {
      const r = await board(method, url, body);
      assert.equal(r.status, 405, `${method} ${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'queue_read_only');
    }
    // A child in another queue whose parent is the restore job, or a restore's data in another queue.
    const child = await board('POST', '/queues/archive/add', { name: 'archive', data: { volume: VOLUME, stamp }, options: { parent: { id: jobId, queue: `${fx.prefix}:restore` } } });
    assertRefused(child, 400, 'invalid_job_options', 'options.parent', 'child of the restore');
    const named = await board('POST', '/queues/archive/add', { name: 'restore', data: { restoreId: done.id } });
    assertRefused(named, 400, 'invalid_job_data', 'data', 'a restore in the archive queue');
    assert.equal(await counts(), before, 'nothing was added');
    assert.equal(await (await queues.restore!.getJob(jobId))!.getState(), 'completed');
  });
});

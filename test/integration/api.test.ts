/**
 * The REST contract against the real all-in-one process and real Redis: auth, error shapes, the
 * schedule endpoints and the one job scheduler they maintain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../src/runtime/worker-process.js';
import { http, makeFixture, REDIS_URL, startService, type Fixture, type Service } from '../helpers/service.js';
import { ContractChecker } from '../helpers/openapi-check.js';

const TOKEN = 'test-token-0123456789abcdef';

describe('REST API', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  let scheduleQueue: Queue;
  const call = (method: string, url: string, body?: unknown, token: string | undefined = TOKEN) => http(svc.url, method, url, body, token);

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' });
    svc = await startService('start', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    scheduleQueue = new Queue('schedule', { connection: redis, prefix: fx.prefix });
  });
  after(async () => {
    await svc?.stop();
    await scheduleQueue?.close();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it("runs npm start's worker as a child process with the worker's flags and malloc arenas (worker-process.ts)", () => {
    const line = svc.logs().split('\n').find((l) => l.includes('"msg":"worker process started"')) ?? '';
    const pid = Number(/"workerPid":(\d+)/.exec(line)?.[1]); // the child's (pino's own pid field is the parent's)
    assert.ok(pid > 0, 'the parent logs the worker child it started');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of WORKER_NODE_FLAGS) assert.ok(argv.includes(flag), `child started without ${flag}: ${argv.join(' ')}`);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(WORKER_PROCESS_ENV)) assert.ok(environ.includes(`${name}=${value}`), `child without ${name}=${value}`);
    assert.ok(!readFileSync(`/proc/${svc.proc.pid}/cmdline`, 'utf8').includes('--max-semi-space-size'), 'the API keeps V8 defaults');
  });

  describe('auth', () => {
    it('answers 401 with the error shape without a token', async () => {
      const r = await call('GET', '/api/schedule', undefined, '');
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'unauthorized');
      assert.match(r.body.error.message, /token/);
    });
    it('answers 401 to a wrong token, also one that is a prefix of the right one', async () => {
      assert.equal((await call('GET', '/api/backups', undefined, 'wrong-token-0123456789abcdef')).status, 401);
      assert.equal((await call('GET', '/api/backups', undefined, TOKEN.slice(0, -1))).status, 401);
      assert.equal((await call('POST', '/api/backups', {}, 'x')).status, 401);
    });
    it('lets the right token in as Bearer; Basic only on the dashboard, and nothing after the token', async () => {
      assert.equal((await call('GET', '/api/backups')).status, 200);
      const basic = await fetch(`${svc.url}/api/backups`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } });
      assert.equal(basic.status, 401);
      const extra = await fetch(`${svc.url}/api/backups`, { headers: { authorization: `Bearer ${TOKEN} extra` } });
      assert.equal(extra.status, 401);
      assert.equal(((await extra.json()) as any).error.code, 'unauthorized');
    });
    it('keeps health probes open and unknown endpoints in the error shape', async () => {
      assert.equal((await http(svc.url, 'GET', '/healthz')).status, 200);
      const ready = await http(svc.url, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body.checks, { redis: 'ok', backupDir: 'ok' });
      const r = await call('GET', '/api/nothing');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
    });
  });

  describe('dashboard', () => {
    it('is behind the token: 401 with a Basic challenge without it, the page and its API with it', async () => {
      const anon = await fetch(`${svc.url}/admin/queues`);
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic/);
      const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };
      const page = await fetch(`${svc.url}/admin/queues`, { headers: basic });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      const api = await fetch(`${svc.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(api.status, 200);
      const names = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
      assert.deepEqual(names, ['alerts', 'archive', 'copy', 'dump', 'prune', 'restore', 'schedule', 'verify']);
    });
  });

  describe('schedule', () => {
    it('shows the seed example as the default: Monday to Friday at 03:15, 10 generations', async () => {
      const r = await call('GET', '/api/schedule');
      assert.equal(r.status, 200);
      assert.equal(r.body.cron, '15 3 * * 1-5');
      assert.equal(r.body.keep, 10);
      assert.equal(r.body.timezone, 'Europe/Zurich');
      assert.equal(r.body.enabled, true);
      assert.equal(r.body.nextRuns.length, 5);
      for (const iso of r.body.nextRuns) {
        const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Zurich', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
        assert.match(local, /^(Mon|Tue|Wed|Thu|Fri) 03:15$/);
      }
    });

    it('PUT stores the fields and keeps exactly one job scheduler, even when PUT twice', async () => {
      const body = { minute: '0,30', hour: '*/2', day: '1-10/2', month: '*', weekday: '*', keep: 3 };
      const first = await call('PUT', '/api/schedule', body);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.cron, '0,30 */2 1-10/2 * *');
      const second = await call('PUT', '/api/schedule', { ...body, minute: 15 });
      assert.equal(second.status, 200);
      assert.equal(second.body.minute, '15');
      assert.equal(second.body.keep, 3);
      const schedulers = (await scheduleQueue.getJobSchedulers()).filter((j) => j.key === 'backup-run');
      assert.equal(schedulers.length, 1);
      assert.equal(schedulers[0]!.pattern, '15 */2 1-10/2 * *');
      assert.equal(schedulers[0]!.tz, 'Europe/Zurich');
      const got = await call('GET', '/api/schedule');
      assert.equal(got.body.cron, '15 */2 1-10/2 * *');
      assert.equal(new Date(got.body.nextRuns[0]).getTime() > Date.now(), true);
    });

    const invalid: [Record<string, unknown>, string, RegExp][] = [
      [{ minute: '60' }, 'minute', /0-59/],
      [{ weekday: '8' }, 'weekday', /0-7/],
      [{ hour: '*/0' }, 'hour', /0-23/],
      [{ day: '5-1' }, 'day', /1-31/],
      [{ keep: 0 }, 'keep', /keep/],
      [{ keep: 'abc' }, 'keep', /keep/],
      [{ weekday: '1-5 *' }, 'weekday', /one expression/],
      [{ second: '0' }, 'second', /second/],
    ];
    for (const [change, field, message] of invalid) {
      it(`400 names the field for ${JSON.stringify(change)}`, async () => {
        const body = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 10, ...change };
        const r = await call('PUT', '/api/schedule', body);
        assert.equal(r.status, 400);
        assert.equal(r.body.error.code, 'invalid_request');
        assert.equal(r.body.error.field, field);
        assert.match(r.body.error.message, message);
      });
    }

    it('400 on a body that is not JSON', async () => {
      const res = await fetch(`${svc.url}/api/schedule`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{"minute": ',
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as any).error.code, 'invalid_json');
    });

    it('400 that names what a JSON body that is not an object is (null, a number, a string)', async () => {
      for (const [body, what] of [['null', 'null'], ['123', 'number'], ['"text"', 'string']]) {
        const res = await fetch(`${svc.url}/api/schedule`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 400);
        const { error } = (await res.json()) as any;
        assert.equal(error.code, 'invalid_json');
        assert.equal(error.message, `request body must be a JSON object, not ${what}`);
      }
    });

    it('DELETE removes the scheduler and GET says disabled; a later PUT enables it again', async () => {
      const del = await call('DELETE', '/api/schedule');
      assert.equal(del.status, 200);
      assert.equal(del.body.enabled, false);
      assert.equal(del.body.problem, null, 'the shape of GET');
      assert.deepEqual(del.body.nextRuns, []);
      assert.deepEqual((await scheduleQueue.getJobSchedulers()).map((j) => j.key), ['verify-newest']);
      assert.equal((await call('GET', '/api/schedule')).body.enabled, false);
      const put = await call('PUT', '/api/schedule', { minute: 15, hour: 3, day: '*', month: '*', weekday: '1-5', keep: 10 });
      assert.equal(put.body.enabled, true);
      assert.equal(put.body.problem, null, 'the shape of GET');
      assert.deepEqual((await scheduleQueue.getJobSchedulers()).map((j) => j.key).sort(), ['backup-run', 'verify-newest']);
    });
  });

  describe('backups and jobs', () => {
    it('404 for an unknown stamp, 400 for something that is no stamp', async () => {
      const r = await call('GET', '/api/backups/2020-01-01-0000');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
      const bad = await call('GET', '/api/backups/yesterday');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'stamp');
    });
    it('400 for unknown volumes in run-now; 409 when there is no volume at all', async () => {
      const r = await call('POST', '/api/backups', { volumes: ['nope'] });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, 'volumes');
      assert.match(r.body.error.message, /nope/);
      const bad = await call('POST', '/api/backups', { volumes: '../etc' });
      assert.equal(bad.status, 400);
      const none = await call('POST', '/api/backups', {});
      assert.equal(none.status, 409);
      assert.equal(none.body.error.code, 'no_volumes');
    });
    it('404 for an unknown job; 400 for a bad filter', async () => {
      assert.equal((await call('GET', '/api/jobs/nope')).status, 404);
      assert.equal((await call('GET', '/api/jobs?state=sleeping')).body.error.field, 'state');
      // The only jobs so far are the schedulers' next run and verification, waiting in the delayed set.
      const jobs = (await call('GET', '/api/jobs')).body.jobs;
      assert.deepEqual(jobs.map((j: any) => `${j.name}:${j.state}`).sort(), ['run:delayed', 'verify-newest:delayed']);
      assert.equal((await call('GET', `/api/jobs/${encodeURIComponent(jobs[0].id)}`)).body.id, jobs[0].id);
    });
  });

  describe('OpenAPI document', () => {
    it('is served behind the token, and the answers of the main routes match it', async () => {
      assert.equal((await call('GET', '/api/openapi.json', undefined, '')).status, 401);
      const doc = await call('GET', '/api/openapi.json');
      assert.equal(doc.status, 200);
      assert.match(doc.body.openapi, /^3\.1\./);
      const contract = new ContractChecker(doc.body);
      const answers: [string, string, string, unknown?][] = [
        ['GET', '/api/schedule', '/api/schedule'],
        ['PUT', '/api/schedule', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 10 }],
        ['PUT', '/api/schedule', '/api/schedule', { minute: '60', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 10 }],
        ['GET', '/api/verify-schedule', '/api/verify-schedule'],
        ['GET', '/api/backups', '/api/backups'],
        ['GET', '/api/backups/2001-01-01-0101', '/api/backups/{stamp}'],
        ['GET', '/api/jobs?limit=5', '/api/jobs'],
        ['GET', '/api/jobs/nothing', '/api/jobs/{id}'],
        ['POST', '/api/restores', '/api/restores', { stamp: 'x' }],
        ['GET', '/api/restores/00000000-0000-4000-8000-000000000000', '/api/restores/{id}'],
        ['GET', '/api/openapi.json', '/api/openapi.json'],
      ];
      for (const [method, url, template, body] of answers) {
        const r = await call(method, url, body);
        contract.check(method, template, r.status, r.body);
      }
      const unauthorized = await call('GET', '/api/backups', undefined, '');
      contract.check('GET', '/api/backups', unauthorized.status, unauthorized.body);
    });
  });
});

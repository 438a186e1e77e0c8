/**
 * Request validation through the real API process (src/api/schemas/ via parseRequest): for each
 * route a bad body, query or path parameter is a 400 `invalid_request` whose `field` names it, and
 * nothing happened (no schedule changed, no job queued, no upload kept). The API runs alone (no
 * worker), with a database configured so the SQL route gets as far as its query.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RestoreRequests } from '../../src/stores/restore-requests.js';
import { http, makeFixture, REDIS_URL, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'validation-token-0123456789abcdef';
const UUID = '0b9a3c55-6d59-4c8f-9a43-3f2f1f0e9a11';
const SCHEDULE = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 10 };
const { keep: _keep, ...CRON } = SCHEDULE;

describe('request validation', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  const call = (method: string, url: string, body?: unknown) => http(svc.url, method, url, body, TOKEN);

  /** The call is refused with 400 invalid_request naming `field`; the message matches. */
  async function refused(method: string, url: string, body: unknown, field: string, message: RegExp) {
    const r = await call(method, url, body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'field', 'message']);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    assert.match(r.body.error.message, message);
  }

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', DB_HOST: '127.0.0.1' });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('api', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    await svc?.stop();
    redis?.disconnect();
    await fx?.cleanup();
  });

  it('PUT /api/schedule names the field, with its range, and keeps the schedule', async () => {
    const before = (await call('GET', '/api/schedule')).body;
    await refused('PUT', '/api/schedule', { ...SCHEDULE, minute: true }, 'minute', /^minute: expected a string or whole number, got true; allowed 0-59/);
    await refused('PUT', '/api/schedule', { ...SCHEDULE, hour: 1e300 }, 'hour', /^hour: .*allowed 0-23/);
    await refused('PUT', '/api/schedule', CRON, 'keep', /^keep: the value is missing; allowed 1-1000/);
    await refused('PUT', '/api/schedule', { ...SCHEDULE, day: '31', month: '2,4', weekday: '*' }, 'day', /never occurs in month "2,4", so the schedule would never run/);
    await refused('PUT', '/api/schedule', { ...SCHEDULE, minute: '99', year: '2026' }, 'year', /^year: unknown field/);
    await refused('PUT', '/api/schedule', [SCHEDULE], 'body', /^body: expected a JSON object with minute, hour, day, month, weekday, keep$/);
    assert.deepEqual((await call('GET', '/api/schedule')).body, before);
  });

  it('PUT /api/verify-schedule takes no keep and names a bad field', async () => {
    const before = (await call('GET', '/api/verify-schedule')).body;
    await refused('PUT', '/api/verify-schedule', SCHEDULE, 'keep', /^keep: unknown field; only the five crontab fields .* are accepted$/);
    await refused('PUT', '/api/verify-schedule', { ...CRON, hour: '24' }, 'hour', /^hour: "24" is out of range; allowed 0-23/);
    assert.deepEqual((await call('GET', '/api/verify-schedule')).body, before);
    const ok = await call('PUT', '/api/verify-schedule', { ...CRON, hour: 5 });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.cron, '15 5 * * 1-5');
  });

  it('POST /api/backups names volumes, an unknown field, or a body that is no object; nothing is queued', async () => {
    const list = /^volumes must be a non-empty list of volume names like \["elexisdb", "pacsdata"\]$/;
    await refused('POST', '/api/backups', { volumes: [] }, 'volumes', list);
    await refused('POST', '/api/backups', { volumes: ['Elexis DB'] }, 'volumes', list);
    await refused('POST', '/api/backups', { volume: ['elexisdb'] }, 'volume', /^unknown field "volume"; only "volumes" is accepted$/);
    await refused('POST', '/api/backups', [], 'body', /^body must be a JSON object like \{"volumes": \["elexisdb"\]\}$/);
    const archive = new Queue('archive', { connection: redis, prefix: fx.prefix });
    assert.equal(await archive.count(), 0, 'nothing was queued');
    await archive.close();
  });

  it('the :stamp of /api/backups/:stamp and …/verify is named when it is no stamp', async () => {
    await refused('GET', '/api/backups/yesterday', undefined, 'stamp', /^"yesterday" is not a stamp like 2026-11-21-0315$/);
    await refused('POST', '/api/backups/2026-13-01-0315/verify', undefined, 'stamp', /^"2026-13-01-0315" is not a stamp/);
  });

  it('POST /api/restores checks the whole body before it looks for the set', async () => {
    const stamp = '2026-11-21-0315';
    await refused('POST', '/api/restores', {}, 'stamp', /^stamp must be a backup stamp like 2026-11-21-0315$/);
    await refused('POST', '/api/restores', { stamp, skipSafetyBackup: 'yes' }, 'skipSafetyBackup', /^skipSafetyBackup must be true or false$/);
    await refused('POST', '/api/restores', { stamp, volumes: 'elexisdb' }, 'volumes', /^volumes must be a non-empty list/);
    await refused('POST', '/api/restores', { stamp, path: ['x'] }, 'path', /^unknown field "path"; accepted: stamp, volumes, skipSafetyBackup, paths, into, from$/);
    await refused('POST', '/api/restores', { stamp, volumes: ['elexisdb'], paths: ['/x'] }, 'paths', /^paths must be a non-empty list .* of entry keys/);
    await refused('POST', '/api/restores', { stamp, paths: ['eA'] }, 'volumes', /^a restore of paths needs exactly one volume/);
    // A valid body for a set that does not exist is still a 404.
    assert.equal((await call('POST', '/api/restores', { stamp })).status, 404);
  });

  it('POST /api/restores/:id/confirm names the token or an unknown field; an id that is none is 404 first', async () => {
    await refused('POST', `/api/restores/${UUID}/confirm`, {}, 'token', /^token is required: the token of the restore request$/);
    await refused('POST', `/api/restores/${UUID}/confirm`, { token: 42 }, 'token', /^token must be a string: the token of the restore request$/);
    await refused('POST', `/api/restores/${UUID}/confirm`, { token: 'x', ageIdentity: 'k' }, 'ageIdentity', /^ageIdentity must be the text of an age identity file/);
    await refused('POST', `/api/restores/${UUID}/confirm`, { token: 'x', key: 'k' }, 'key', /^unknown field "key"; accepted: token, ageIdentity$/);
    assert.equal((await call('POST', '/api/restores/not-an-id/confirm', {})).status, 404);
  });

  it('confirm with ageIdentity and no worker to take it: 409 no_worker, and the confirmation is not spent', async () => {
    const identity = 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSQW3Z5J';
    assert.equal((await call('POST', `/api/restores/${UUID}/confirm`, { token: 'x', ageIdentity: identity })).status, 404);
    const redis = new Redis(REDIS_URL);
    try {
      const { request, token } = await new RestoreRequests(redis, fx.prefix, 600_000, { now: () => new Date() }).create({
        kind: 'set', stamp: '2026-11-21-0315', volumes: ['pacsdata'], sqlFile: null, skipSafetyBackup: true, from: 'nas:oob',
      });
      const r = await call('POST', `/api/restores/${request.id}/confirm`, { token, ageIdentity: identity });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'no_worker');
      assert.equal(r.body.error.field, 'ageIdentity');
      assert.ok(!JSON.stringify(r.body).includes(identity));
      assert.equal((await call('GET', `/api/restores/${request.id}`)).body.state, 'pending', 'the token can still be used');
    } finally {
      redis.disconnect();
    }
  });

  it('POST /api/restores/sql names a bad skipSafetyBackup and keeps no upload; 1 means true', async () => {
    const upload = (query: string) =>
      fetch(`${svc.url}/api/restores/sql${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/sql' },
        body: 'CREATE TABLE t (id INT);\n',
      });
    const bad = await upload('?skipSafetyBackup=maybe');
    const body = (await bad.json()) as any;
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.deepEqual(body.error, { code: 'invalid_request', message: 'skipSafetyBackup must be true or false (or 1 or 0)', field: 'skipSafetyBackup' });
    const kept = await fs.readdir(path.join(fx.backupDir, 'uploads')).catch(() => []);
    assert.deepEqual(kept, [], 'no upload was kept');
    const ok = await upload('?skipSafetyBackup=1');
    assert.equal(ok.status, 201);
    assert.equal(((await ok.json()) as any).skipSafetyBackup, true);
  });

  it('GET /api/jobs names a bad query parameter and ignores unknown ones', async () => {
    await refused('GET', '/api/jobs?offset=1.5', undefined, 'offset', /^offset must be an integer from 0 to 9007199254740991$/);
    await refused('GET', '/api/jobs?limit=5&state=done', undefined, 'state', /^state must be one of active, waiting, .*, failed$/);
    await refused('GET', '/api/jobs?queue=archive&queue=prune', undefined, 'queue', /^queue must be one of schedule, archive/);
    const ok = await call('GET', '/api/jobs?limit=5&queue=verify&_=1');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(Object.keys(ok.body.page.queues), ['verify']);
    assert.equal(ok.body.page.limit, 5);
  });
});

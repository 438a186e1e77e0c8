/**
 * The two calls the backup screens added to the REST API (issue 15), against the real service:
 * GET /api/volumes (every volume with its newest archive, warnings, overdue state, the backup disk's
 * free space) and POST /api/schedule/preview (the fields checked and their next runs, nothing saved).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { ContractChecker } from '../helpers/openapi-check.js';
import { Redis } from 'ioredis';
import { http, makeFixture, REDIS_URL, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'overview-api-token-0123456789';

describe('GET /api/volumes and POST /api/schedule/preview', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let svc: Service;
  let socket: net.Server;

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' }, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    // A socket cannot be archived: the archive leaves it out with a warning.
    socket = net.createServer();
    await new Promise<void>((resolve) => socket.listen(path.join(fx.volumesDir, 'pacsdata', 'app.sock'), resolve));
    svc = await startService('start', fx.env);
  });
  after(async () => {
    socket?.close();
    await svc?.stop();
    await fx?.cleanup();
  });

  it('lists every volume before its first backup, overdue once a tick of the schedule has passed without one', async () => {
    const r = await http(svc.url, 'GET', '/api/volumes', undefined, TOKEN);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.volumes.map((v: any) => [v.name, v.kind, v.lastArchive]), [['elexisdb', 'volume', null], ['pacsdata', 'volume', null]]);
    // The default schedule (Monday-Friday 03:15) ticked on Wednesday 12 June 2030, 03:15 Zurich
    // time, before this service first started: nothing was due then.
    for (const v of r.body.volumes) assert.equal(v.overdue, null, JSON.stringify(v));
    // An installation that has been running since June 1st: that tick was due.
    const redis = new Redis(REDIS_URL);
    await redis.set(`${fx.prefix}:oob-settings:schedule-since`, '2030-06-01T00:00:00.000Z');
    redis.disconnect();
    const since = await http(svc.url, 'GET', '/api/volumes', undefined, TOKEN);
    for (const v of since.body.volumes) assert.deepEqual(v.overdue, { expectedBy: '2030-06-12T01:15:00.000Z', lastSuccess: null });
    assert.ok(r.body.backupDir.freeBytes > 0 && r.body.backupDir.totalBytes >= r.body.backupDir.freeBytes, JSON.stringify(r.body.backupDir));
    assert.equal((await http(svc.url, 'GET', '/api/volumes')).status, 401, 'behind the token like every /api call');
  });

  it('after a run: the newest archive per volume, verified, with its warnings; no longer overdue', async () => {
    const stamp = await runNowAndSettle(svc.url, TOKEN);
    const r = await http(svc.url, 'GET', '/api/volumes', undefined, TOKEN);
    const byName = Object.fromEntries(r.body.volumes.map((v: any) => [v.name, v]));
    for (const name of ['elexisdb', 'pacsdata']) {
      const a = byName[name].lastArchive;
      assert.equal(a.stamp, stamp);
      assert.equal(a.file, `${name}_${stamp}.tar.gz`);
      assert.equal(a.verified?.ok, true, JSON.stringify(a));
      assert.equal(byName[name].overdue, null);
    }
    assert.equal(byName.elexisdb.lastArchive.warnings, 0);
    assert.equal(byName.pacsdata.lastArchive.warnings, 1);
    assert.match(byName.pacsdata.lastArchive.warningMessages[0], /app\.sock/);
    // The listing of sets carries the same count.
    const sets = await http(svc.url, 'GET', '/api/backups', undefined, TOKEN);
    assert.equal(sets.body.sets[0].archives.find((a: any) => a.volume === 'pacsdata').warnings, 1);
  });

  it('previews a schedule: its next runs from the same rules, a 400 naming the field, nothing saved', async () => {
    const before = (await http(svc.url, 'GET', '/api/schedule', undefined, TOKEN)).body;
    const ok = await http(svc.url, 'POST', '/api/schedule/preview', { minute: '0', hour: '22', day: '*', month: '*', weekday: '6' }, TOKEN);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.cron, '0 22 * * 6');
    assert.equal(ok.body.timezone, 'Europe/Zurich');
    assert.deepEqual(ok.body.nextRuns.slice(0, 2), ['2030-06-15T20:00:00.000Z', '2030-06-22T20:00:00.000Z']);
    assert.equal(ok.body.nextRuns.length, 5);
    const bad = await http(svc.url, 'POST', '/api/schedule/preview', { minute: '61', hour: '3', day: '*', month: '*', weekday: '*' }, TOKEN);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'minute');
    assert.match(bad.body.error.message, /0-59/);
    const never = await http(svc.url, 'POST', '/api/schedule/preview', { minute: '0', hour: '3', day: '31', month: '4', weekday: '*' }, TOKEN);
    assert.equal(never.status, 400);
    assert.equal(never.body.error.field, 'day');
    const after = (await http(svc.url, 'GET', '/api/schedule', undefined, TOKEN)).body;
    assert.deepEqual(after, before);
  });

  it('answers as GET /api/openapi.json describes it', async () => {
    const contract = new ContractChecker((await http(svc.url, 'GET', '/api/openapi.json', undefined, TOKEN)).body);
    const fields = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5' };
    const calls: [string, string, string, unknown?][] = [
      ['GET', '/api/volumes', '/api/volumes'],
      ['GET', '/api/backups', '/api/backups'],
      ['POST', '/api/schedule/preview', '/api/schedule/preview', fields],
      ['POST', '/api/schedule/preview', '/api/schedule/preview', { ...fields, hour: '24' }],
    ];
    for (const [method, url, template, body] of calls) {
      const r = await http(svc.url, method, url, body, TOKEN);
      contract.check(method, template, r.status, r.body);
    }
  });
});

/**
 * The admin's settings survive a Redis that lost its data (FLUSHALL, a new Redis without its
 * volume): they are kept beside the backups too (src/stores/settings-mirror.ts) and taken back from
 * there. Before, the schedule fell back to the defaults without a word, and the next prune kept 10
 * generations where the admin had chosen 12 (found by a tester).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { deleteRedisPrefix, http, makeFixture, runNowAndSettle, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

describe("the admin's settings after Redis lost its data", () => {
  let fx: Fixture;
  let svc: Service;
  const schedule = { minute: '0', hour: '22', day: '*', month: '*', weekday: '*', keep: 12 };
  const verify = { minute: '30', hour: '6', day: '*', month: '*', weekday: '6' };

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', schedule)).status, 200);
    assert.equal((await http(svc.url, 'PUT', '/api/verify-schedule', verify)).status, 200);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 5 })).status, 200);
    await deleteRedisPrefix(fx.prefix);
  });

  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('come back from their copy beside the backups, and the log says so', async () => {
    const s = (await http(svc.url, 'GET', '/api/schedule')).body;
    assert.deepEqual({ minute: s.minute, hour: s.hour, day: s.day, month: s.month, weekday: s.weekday, keep: s.keep, enabled: s.enabled }, { ...schedule, enabled: true });
    const v = (await http(svc.url, 'GET', '/api/verify-schedule')).body;
    assert.deepEqual({ minute: v.minute, hour: v.hour, weekday: v.weekday }, { minute: '30', hour: '6', weekday: '6' });
    const volumes = (await http(svc.url, 'GET', '/api/volumes')).body.volumes as { name: string; mode: string; fullEvery: number }[];
    const pacs = volumes.find((x) => x.name === 'pacsdata')!;
    assert.deepEqual({ mode: pacs.mode, fullEvery: pacs.fullEvery }, { mode: 'incremental', fullEvery: 5 });
    // When the schedule took effect was lost with Redis: yesterday's 22:00 is not taken as due.
    assert.equal((pacs as unknown as { overdue: unknown }).overdue, null);
    await waitFor(() => /setting missing from Redis \(its data was lost\): taken back from its copy beside the backups/.test(svc.logs()), 5000, 'the log line');
  });

  it('are kept in BACKUP_DIR/.oob-settings, readable by the service only', async () => {
    const dir = path.join(fx.backupDir, '.oob-settings');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['schedule.json', 'verify-schedule.json', 'volume-modes.json']);
    assert.equal((await fs.stat(path.join(dir, 'schedule.json'))).mode & 0o777, 0o600);
    assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'schedule.json'), 'utf8')).keep, 12);
  });

  it('a damaged copy is not taken back: the defaults show with the problem named, nothing is pruned, saving mends it', async () => {
    const file = path.join(fx.backupDir, '.oob-settings', 'schedule.json');
    await fs.writeFile(file, JSON.stringify({ ...schedule, keep: 0, enabled: true }));
    await deleteRedisPrefix(fx.prefix);
    const shown = (await http(svc.url, 'GET', '/api/schedule')).body;
    assert.equal(shown.keep, 10, 'the defaults, so that the service runs');
    assert.match(shown.problem, /^the copy of the schedule setting in \S+schedule\.json is not valid \(keep: 0 is too small.*\): save the setting again$/);
    // A run backs up, its prune deletes nothing while the schedule cannot be trusted.
    await fs.writeFile(path.join(fx.volumesDir, 'pacsdata', 'new.dcm'), 'a new study');
    await fx.clock.advance(60_000);
    await runNowAndSettle(svc.url);
    const prune = ((await http(svc.url, 'GET', '/api/jobs?queue=prune&state=failed')).body.jobs as { failedReason: string }[])[0];
    assert.match(prune?.failedReason ?? '', /^not pruning pacsdata: the copy of the schedule setting .* no archive was deleted$/);
    const mended = { ...schedule, keep: 14 };
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', mended)).status, 200);
    const now = (await http(svc.url, 'GET', '/api/schedule')).body;
    assert.deepEqual([now.keep, now.problem], [14, null]);
    assert.equal(JSON.parse(await fs.readFile(file, 'utf8')).keep, 14);
  });

  it('a damaged volume-modes copy leaves the volumes in full mode and the screens working; settings saved before the copies existed are copied at the next start', async () => {
    const dir = path.join(fx.backupDir, '.oob-settings');
    await fs.writeFile(path.join(dir, 'volume-modes.json'), '{"pacsdata": "{\\"mode\\":\\"incremental\\",\\"fullEvery\\":5000,\\"fullOn\\":null}"}');
    await deleteRedisPrefix(fx.prefix);
    const r = await http(svc.url, 'GET', '/api/volumes');
    assert.equal(r.status, 200);
    assert.equal(r.body.volumes.find((v: { name: string }) => v.name === 'pacsdata').mode, 'full');
    await waitFor(() => /the mode of pacsdata in \S+volume-modes\.json is not valid; pacsdata stays in full mode/.test(svc.logs()), 5000, 'the log line');
    // An upgrade: the settings are in Redis, their copies are not.
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 5 })).status, 200);
    await fs.rm(dir, { recursive: true });
    await svc.stop();
    svc = await startService('start', fx.env);
    // (The verify schedule is not in Redis any more here: emptied above and not read since.)
    assert.deepEqual((await fs.readdir(dir)).sort(), ['schedule.json', 'volume-modes.json']);
    assert.equal(JSON.parse(JSON.parse(await fs.readFile(path.join(dir, 'volume-modes.json'), 'utf8')).pacsdata).fullEvery, 5);
  });

  it('are no set and no archive in the listing', async () => {
    const r = await http(svc.url, 'GET', '/api/backups');
    assert.equal(r.status, 200);
    const files = (r.body.sets as { archives: { file: string }[] }[]).flatMap((x) => x.archives.map((a) => a.file));
    assert.ok(files.length > 0 && files.every((f) => /^pacsdata_/.test(f)), JSON.stringify(files));
  });
});

/**
 * An upgrade from a version that did not mark its safety backups (no `safetyFor` in the manifest):
 * the restore records in Redis name them, and the first prune after the upgrade counts them as
 * no generation, so an earlier version's safety backup does not push a good set out (found
 * testing an upgrade: keep 2, one restore before the upgrade, the next run pruned the older of
 * the two good sets and kept the safety backup instead).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { http, makeFixture, REDIS_URL, startServices, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { gnuTarArchive } from '../helpers/volumes.js';

const VOLUME = 'elexisdb';
const GOOD = ['2024-01-01-0315', '2024-01-02-0315'];
const SAFETY = '2024-01-02-1012';
const RESTORE_ID = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const file = (stamp: string) => `${VOLUME}_${stamp}.tar.gz`;

describe('upgrade: safety backups of an earlier version', () => {
  let fx: Fixture;
  let svc: Service;
  let removed: string[];
  let listed: any[];

  before(async () => {
    fx = await makeFixture();
    const dir = path.join(fx.volumesDir, VOLUME);
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'ibdata1'), 'now\n');
    const old = path.join(fx.root, 'old-source');
    await fs.mkdir(old);
    await fs.writeFile(path.join(old, 'old.txt'), 'earlier data\n');
    // As an earlier version left them: two runs, then a restore's safety backup without a note.
    for (const s of [...GOOD, SAFETY]) await gnuTarArchive(old, path.join(fx.backupDir, file(s)));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const summary = { kind: 'set', stamp: GOOD[0], volumes: [{ volume: VOLUME, entries: 2, files: 1, bytes: 13 }], safetyBackupStamp: SAFETY, durationMs: 5, restartRequired: true, message: 'Restored', warnings: [] };
    await redis.set(`${fx.prefix}:oob-restore:${RESTORE_ID}:outcome`, JSON.stringify({ state: 'completed', summary, failedReason: null, at: '2024-01-02T09:12:30.000Z' }));
    redis.disconnect();

    [svc] = await startServices(['start', fx.env]);
    const put = await http(svc.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 2 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const r = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const settled = await waitForJobsSettled(svc.url, undefined, 60_000);
    const prune = settled.find((j) => j.queue === 'prune');
    assert.equal(prune?.state, 'completed', JSON.stringify(settled));
    removed = prune!.result.removed;
    listed = (await http(svc.url, 'GET', '/api/backups')).body.sets.flatMap((s: any) => s.archives);
  });
  after(async () => {
    await svc?.stop('SIGKILL');
    await fx?.cleanup();
  });

  it('keeps the newer good set: the earlier safety backup counts as no generation', async () => {
    assert.deepEqual(removed, [file(GOOD[0]!)]);
    const names = await fs.readdir(fx.backupDir);
    assert.ok(names.includes(file(GOOD[1]!)), 'the newer good set was pruned');
    assert.ok(names.includes(file(SAFETY)), 'the safety backup newer than every kept generation stays');
  });

  it('lists the earlier safety backup as one, with the restore it was made for', () => {
    assert.equal(listed.find((a) => a.file === file(SAFETY))?.safetyFor, RESTORE_ID);
    assert.equal(listed.find((a) => a.file === file(GOOD[1]!))?.safetyFor, null);
  });
});

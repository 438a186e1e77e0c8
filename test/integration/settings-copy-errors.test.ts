/**
 * The settings' copy beside the backups (BACKUP_DIR/.oob-settings, src/stores/settings-mirror.ts)
 * cannot be written: saving the schedule or a volume's mode answered 500 with the reason only in
 * the log. Now it is a JSON error that names the file, why, and what to do; the setting is not
 * changed, in Redis or in the copy, so that the two never disagree; once the directory is fixed,
 * saving works again. A full disk and a read-only file system are made real with a small tmpfs
 * mounted over the copies' directory where the test may mount (root); elsewhere those two cases
 * are skipped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const SCHEDULE = { minute: '0', hour: '22', day: '*', month: '*', weekday: '*', keep: 12 };

function canMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe("settings whose copy beside the backups cannot be written", () => {
  let fx: Fixture;
  let svc: Service;
  let dir = '';
  let mounted = false;
  const saved = async () => (await http(svc.url, 'GET', '/api/schedule')).body;
  const mode = async () => ((await http(svc.url, 'GET', '/api/volumes')).body.volumes as { name: string; mode: string }[]).find((v) => v.name === 'pacsdata')!.mode;
  const copy = async (name: string) => fs.readFile(path.join(dir, `${name}.json`), 'utf8');

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    dir = path.join(fx.backupDir, '.oob-settings');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', SCHEDULE)).status, 200);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'full' })).status, 200);
  });
  after(async () => {
    if (mounted) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    await svc?.stop();
    await fx?.cleanup();
  });

  /** The answer to a save that cannot be kept, and that nothing changed. */
  async function assertNotSaved(status: number, why: RegExp) {
    const before = { schedule: await saved(), mode: await mode() };
    const s = await http(svc.url, 'PUT', '/api/schedule', { ...SCHEDULE, keep: 30 });
    const v = await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental' });
    for (const [r, setting, name] of [[s, 'backup schedule', 'schedule'], [v, 'volume archive mode', 'volume-modes']] as const) {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message']);
      assert.equal(r.body.error.code, 'settings_not_saved');
      const message: string = r.body.error.message;
      assert.ok(message.startsWith(`the ${setting} setting was not saved, nothing was changed: its copy beside the backups, ${path.join(dir, `${name}.json`)}, cannot be written (`), message);
      assert.match(message, why);
      assert.match(message, /then save again\.$/);
    }
    assert.deepEqual(await saved(), before.schedule, 'the schedule in Redis is unchanged');
    assert.equal(await mode(), before.mode, 'the mode in Redis is unchanged');
  }

  it('schedule.json and volume-modes.json are directories: 503 naming the file; nothing changed; saving works again once they are files', async () => {
    for (const name of ['schedule', 'volume-modes']) {
      await fs.rm(path.join(dir, `${name}.json`));
      await fs.mkdir(path.join(dir, `${name}.json`));
    }
    await assertNotSaved(503, /is a directory, where the copy should be a file\)\. Remove or rename that directory, then save again\.$/);
    for (const name of ['schedule', 'volume-modes']) await fs.rmdir(path.join(dir, `${name}.json`));
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', { ...SCHEDULE, keep: 13 })).status, 200);
    assert.equal(JSON.parse(await copy('schedule')).keep, 13);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'full' })).status, 200);
  });

  it('.oob-settings is a file: 503 saying so; nothing changed, the file left alone', async () => {
    await fs.rm(dir, { recursive: true });
    await fs.writeFile(dir, 'not a directory');
    await assertNotSaved(503, /\.oob-settings \(or a folder above it\) is a file, where a directory should be\)\. Remove or rename that file, then save again\.$/);
    assert.equal(await fs.readFile(dir, 'utf8'), 'not a directory');
    await fs.rm(dir);
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', { ...SCHEDULE, keep: 13 })).status, 200);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'full' })).status, 200);
  });

  it('a full disk (507) and a read-only file system (503): nothing changed; the old copies stay as they were', async (t) => {
    await fs.mkdir(dir, { recursive: true });
    if (!canMount(dir)) return t.skip('mounting a tmpfs needs root');
    const old = { schedule: await copy('schedule'), modes: await copy('volume-modes') };
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir]);
    mounted = true;
    await fs.writeFile(path.join(dir, 'schedule.json'), old.schedule, { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'volume-modes.json'), old.modes, { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'filler'), Buffer.alloc(60 * 1024)).catch(() => undefined); // fills the rest (ENOSPC ends it)
    await assertNotSaved(507, /the disk of \S+ is full\)\. Free space there, then save again\.$/);
    assert.equal(await copy('schedule'), old.schedule);
    assert.equal(await copy('volume-modes'), old.modes);
    await fs.rm(path.join(dir, 'filler'));
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    await assertNotSaved(503, /is on a read-only file system\)\. Make \S+ writable for the service, then save again\.$/);
    execFileSync('umount', [dir]);
    mounted = false;
    assert.equal((await http(svc.url, 'PUT', '/api/schedule', { ...SCHEDULE, keep: 15 })).status, 200);
    assert.equal(JSON.parse(await copy('schedule')).keep, 15);
  });
});

/**
 * A setting's change writes its copy first, then Redis; should Redis refuse after the copy was
 * written, the copy is made what Redis holds (the write may have reached it, its reply lost), or,
 * when Redis cannot tell, put back as it was and caught up at the next read.
 *
 * The copies belong to BACKUP_DIR's owner, also when a worker running as root writes them: in
 * docker-compose.yaml the worker is root and the API `node`, which owns /backup. A copy or
 * directory left to root made every later save through the API fail (500).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SETTINGS_DIR, SettingsCopyError, SettingsMirror } from '../../src/stores/settings-mirror.js';

describe('SettingsMirror.change', () => {
  let root = '';
  before(async () => (root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-mirror-'))));
  after(() => fs.rm(root, { recursive: true, force: true }));

  it('a failed commit puts the previous copy back, or removes a copy that was not there', async () => {
    const mirror = new SettingsMirror(path.join(root, 'a'));
    await mirror.change('schedule', '{"keep":12}', async () => undefined);
    await assert.rejects(mirror.change('schedule', '{"keep":30}', async () => Promise.reject(new Error('Redis went away'))), /Redis went away/);
    assert.equal(await mirror.read('schedule'), '{"keep":12}');
    await assert.rejects(mirror.change('volume-modes', '{}', async () => Promise.reject(new Error('Redis went away'))));
    assert.equal(await mirror.read('volume-modes'), undefined);
  });

  it('a failed commit that Redis applied anyway (its reply lost) keeps the new copy; one Redis could not tell about is caught up at the next read', async () => {
    const mirror = new SettingsMirror(path.join(root, 'c'));
    await mirror.change('schedule', '{"keep":12}', async () => undefined);
    const lost = () => Promise.reject(new Error('Command timed out'));
    await assert.rejects(mirror.change('schedule', '{"keep":30}', lost, async () => '{"keep":30}'));
    assert.equal(await mirror.read('schedule'), '{"keep":30}', 'Redis holds it: so does the copy');
    await assert.rejects(mirror.change('schedule', '{"keep":40}', lost, async () => '{"keep":30}'));
    assert.equal(await mirror.read('schedule'), '{"keep":30}', 'Redis did not take it: the copy is what Redis holds');
    await assert.rejects(mirror.change('schedule', '{"keep":50}', lost, () => Promise.reject(new Error('Connection is closed'))));
    assert.equal(await mirror.read('schedule'), '{"keep":30}', 'unknown: put back');
    await mirror.catchUp('schedule', async () => '{"keep":50}');
    assert.equal(await mirror.read('schedule'), '{"keep":50}', 'caught up at the next read');
    let asked = 0;
    await mirror.catchUp('schedule', async () => (asked++, '{"keep":60}'));
    assert.equal(asked, 0, 'once only: a read afterwards costs nothing');
  });

  it('a copy that cannot be written is a SettingsCopyError naming the file and why; commit is not called', async () => {
    const dir = path.join(root, 'b');
    await fs.writeFile(dir, 'in the way');
    let committed = false;
    const err = await new SettingsMirror(dir).change('schedule', '{}', async () => (committed = true)).catch((e: unknown) => e);
    assert.ok(err instanceof SettingsCopyError);
    assert.equal(err.file, path.join(dir, 'schedule.json'));
    assert.match(err.message, /^the copy of the backup schedule setting, \S+schedule\.json, cannot be written: \S+ \(or a folder above it\) is a file, where a directory should be$/);
    assert.equal(committed, false);
  });
});

const ROOT = process.getuid?.() === 0;

describe('settings mirror ownership', { skip: ROOT ? false : 'needs root (chown)' }, () => {
  let base: string;
  before(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-mirror-'));
  });
  after(async () => {
    await fs.rm(base, { recursive: true, force: true });
  });

  it("written as root into a BACKUP_DIR of uid 1000: the directory and the copy are 1000's, mode 0600", async () => {
    const backupDir = path.join(base, 'node-owned');
    await fs.mkdir(backupDir);
    await fs.chown(backupDir, 1000, 1000);
    const mirror = new SettingsMirror(path.join(backupDir, SETTINGS_DIR));
    await mirror.write('schedule', '{"keep":12}');
    for (const p of [path.join(backupDir, SETTINGS_DIR), mirror.file('schedule')]) {
      const st = await fs.stat(p);
      assert.deepEqual([st.uid, st.gid], [1000, 1000], p);
    }
    assert.equal((await fs.stat(mirror.file('schedule'))).mode & 0o777, 0o600);
    assert.equal(await mirror.read('schedule'), '{"keep":12}');
  });

  it('a directory and copy root made earlier are handed over at the next write', async () => {
    const backupDir = path.join(base, 'repaired');
    await fs.mkdir(path.join(backupDir, SETTINGS_DIR), { recursive: true });
    await fs.writeFile(path.join(backupDir, SETTINGS_DIR, 'schedule.json'), '{}\n', { mode: 0o600 });
    await fs.chown(backupDir, 1000, 1000);
    await new SettingsMirror(path.join(backupDir, SETTINGS_DIR)).write('schedule', '{"keep":3}');
    assert.equal((await fs.stat(path.join(backupDir, SETTINGS_DIR))).uid, 1000);
    assert.equal((await fs.stat(path.join(backupDir, SETTINGS_DIR, 'schedule.json'))).uid, 1000);
  });

  it("a BACKUP_DIR of root's stays root's", async () => {
    const backupDir = path.join(base, 'root-owned');
    await fs.mkdir(backupDir);
    const mirror = new SettingsMirror(path.join(backupDir, SETTINGS_DIR));
    await mirror.write('schedule', '{}');
    assert.equal((await fs.stat(mirror.file('schedule'))).uid, 0);
  });
});

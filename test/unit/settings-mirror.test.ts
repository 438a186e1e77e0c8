/**
 * A setting's change writes its copy first, then Redis; should Redis refuse after the copy was
 * written, the copy is put back as it was, so that it never holds a value Redis never got.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SettingsCopyError, SettingsMirror } from '../../src/stores/settings-mirror.js';

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

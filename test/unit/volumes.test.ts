/**
 * Which volumes exist (src/engine/fs/volumes.ts), in a temp VOLUMES_DIR: names that Object.prototype
 * has are no volumes; a symlink to a directory is one (its target), anything else at the top is
 * none and is named in the log once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { existingVolumeDir, listVolumes, selectRunVolumes, unreachableReason, UnknownVolumeError, volumeDir, type VolumeSource } from '../../src/engine/fs/volumes.js';

const INHERITED = ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf'];

let tmp = '';
let dirSource: VolumeSource;
let listSource: VolumeSource;
const at = (...p: string[]) => path.join(tmp, ...p);

before(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'oob-volumes-')));
  await fs.mkdir(at('volumes/elexisdb'), { recursive: true });
  await fs.mkdir(at('volumes/Bad_Name'));
  await fs.mkdir(at('srv/pacs/sub'), { recursive: true });
  await fs.mkdir(at('srv/lucinda'));
  await fs.mkdir(at('srv/big/inner'), { recursive: true });
  await fs.writeFile(at('srv/a-file'), 'x');
  await fs.writeFile(at('volumes/notes.txt'), 'not a volume');
  await fs.symlink(at('srv/pacs'), at('volumes/pacsdata'));
  await fs.symlink('../srv/lucinda', at('volumes/lucindadata')); // relative, resolved from VOLUMES_DIR
  await fs.symlink(at('srv/lucinda'), at('volumes/Linked_Bad'));
  await fs.symlink(at('nowhere'), at('volumes/dangling'));
  await fs.symlink(at('srv/a-file'), at('volumes/to-file'));
  await fs.symlink('loop', at('volumes/loop'));
  await fs.symlink('elexisdb', at('volumes/again'));
  await fs.symlink(at('srv/pacs'), at('volumes/pacsdata-too'));
  // Nested: the outer one is the volume, whichever name comes first.
  await fs.symlink(at('srv/pacs/sub'), at('volumes/pacs-sub'));
  await fs.symlink(at('srv/big'), at('volumes/big'));
  await fs.symlink(at('srv/big/inner'), at('volumes/big-inner'));
  await fs.symlink(tmp, at('volumes/above'));
  dirSource = { kind: 'dir', dir: at('volumes') };
  listSource = { kind: 'list', volumes: { elexisdb: '/mnt/elexisdb', pacsdata: '/mnt/pacsdata' } };
});

after(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('names that Object.prototype has are no volumes', () => {
  for (const source of ['dir', 'list'] as const) {
    it(`selectRunVolumes refuses them (${source} source)`, async () => {
      const s = source === 'dir' ? dirSource : listSource;
      for (const name of INHERITED) {
        await assert.rejects(selectRunVolumes(s, [name]), (err: unknown) => {
          assert.ok(err instanceof UnknownVolumeError, String(err));
          assert.deepEqual(err.unknown, [name]);
          return true;
        });
      }
      await assert.rejects(selectRunVolumes(s, ['elexisdb', 'constructor', '__proto__']), (err: unknown) => {
        assert.ok(err instanceof UnknownVolumeError);
        assert.deepEqual(err.unknown, ['constructor', '__proto__']);
        assert.match(err.message, /^unknown volume\(s\): constructor, __proto__; known: (big, dangling, )?elexisdb, /);
        return true;
      });
    });
  }

  it('volumeDir of a VOLUMES list knows them not', async () => {
    for (const name of INHERITED) assert.equal(await volumeDir(listSource, name), undefined, name);
    assert.equal(await volumeDir(listSource, 'pacsdata'), '/mnt/pacsdata');
  });

  it('a selection holds exactly the requested volumes, as own entries', async () => {
    const picked = await selectRunVolumes(listSource, ['pacsdata']);
    assert.deepEqual(Object.entries(picked), [['pacsdata', '/mnt/pacsdata']]);
    assert.equal(Object.hasOwn(picked, 'constructor'), false);
  });
});

describe('VOLUMES_DIR: directories, symlinks to directories, and what is no volume', () => {
  it('lists real directories and symlinked ones (by their target); says why the rest is not a volume', async () => {
    const { volumes, skipped, notVolumes, unreachable } = await listVolumes(dirSource);
    assert.deepEqual(volumes, {
      big: at('srv/big'),
      // Symlinks that lead nowhere: volumes that cannot be reached, under the symlink's own path.
      dangling: at('volumes/dangling'),
      elexisdb: at('volumes/elexisdb'),
      loop: at('volumes/loop'),
      lucindadata: at('srv/lucinda'),
      pacsdata: at('srv/pacs'),
      'to-file': at('volumes/to-file'),
    });
    assert.deepEqual(Object.keys(volumes), ['big', 'dangling', 'elexisdb', 'loop', 'lucindadata', 'pacsdata', 'to-file'], 'sorted by name');
    assert.deepEqual(Object.fromEntries(unreachable.map((n) => [n.name, n.reason])), {
      dangling: `is a symlink to ${at('nowhere')}, which does not exist`,
      'to-file': `is a symlink to ${at('srv/a-file')}, which is not a directory`,
      loop: 'is a symlink to loop, which cannot be followed (ELOOP)',
    });
    assert.equal(await unreachableReason(at('volumes/dangling')), `is a symlink to ${at('nowhere')}, which does not exist`);
    assert.equal(await unreachableReason(at('volumes/elexisdb')), undefined);
    assert.equal(await unreachableReason(at('volumes/pacsdata')), undefined);
    // A restore into it names the missing target, not "does not exist" for a symlink that is there.
    await assert.rejects(existingVolumeDir(dirSource, 'dangling'), { message: `volume directory ${at('volumes/dangling')} of dangling is a symlink to ${at('nowhere')}, which does not exist; mount or create it to restore into it` });
    await assert.rejects(existingVolumeDir(dirSource, 'not-there'), { message: `volume directory ${at('volumes/not-there')} of not-there does not exist; create it (empty) to restore into it` });
    assert.deepEqual(skipped.sort(), ['Bad_Name', 'Linked_Bad']);
    assert.deepEqual(Object.fromEntries(notVolumes.map((n) => [n.name, n.reason])), {
      'notes.txt': 'is a file, not a directory',
      again: `is a symlink to ${at('volumes/elexisdb')}, the directory of volume elexisdb already`,
      'pacsdata-too': `is a symlink to ${at('srv/pacs')}, the directory of volume pacsdata already`,
      'pacs-sub': `is a symlink to ${at('srv/pacs/sub')}, which lies inside volume pacsdata (backed up with it)`,
      'big-inner': `is a symlink to ${at('srv/big/inner')}, which lies inside volume big (backed up with it)`,
      above: `is a symlink to ${tmp}, which holds VOLUMES_DIR itself`,
    });
  });

  it('volumeDir resolves a symlinked volume to its target; a symlink that is no volume has none', async () => {
    assert.equal(await volumeDir(dirSource, 'pacsdata'), at('srv/pacs'));
    assert.equal(await volumeDir(dirSource, 'lucindadata'), at('srv/lucinda'));
    assert.equal(await volumeDir(dirSource, 'elexisdb'), at('volumes/elexisdb'));
    for (const name of ['again', 'pacsdata-too', 'pacs-sub', 'big-inner', 'above']) assert.equal(await volumeDir(dirSource, name), undefined, name);
    // A symlink that leads nowhere: a volume that cannot be reached, at the symlink's own path.
    for (const name of ['dangling', 'to-file', 'loop']) assert.equal(await volumeDir(dirSource, name), at(`volumes/${name}`), name);
    // A file is no volume; a valid name with nothing there still gets its path (its archive fails loudly).
    await fs.writeFile(at('volumes/plain-file'), '');
    try {
      assert.equal(await volumeDir(dirSource, 'plain-file'), undefined);
    } finally {
      await fs.rm(at('volumes/plain-file'));
    }
    assert.equal(await volumeDir(dirSource, 'not-there'), at('volumes/not-there'));
    assert.equal(await volumeDir(dirSource, '../srv'), undefined);
  });

  it('names each entry that is no volume in the log once per process, and each symlinked volume with its target', async () => {
    const lines: { level: number; msg: string; entry?: string; volume?: string; target?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    await listVolumes(dirSource, logger);
    await listVolumes(dirSource, logger);
    const warned = lines.filter((l) => l.level === 40);
    assert.deepEqual(warned.map((l) => l.entry ?? l.volume).sort(), ['above', 'again', 'big-inner', 'dangling', 'loop', 'notes.txt', 'pacs-sub', 'pacsdata-too', 'to-file']);
    assert.ok(
      warned.some((l) => l.msg === `volume dangling cannot be reached: it is a symlink to ${at('nowhere')}, which does not exist; its backups fail until it is back (remove the symlink to retire the volume)`),
      JSON.stringify(warned),
    );
    assert.ok(warned.some((l) => l.msg === `"notes.txt" in VOLUMES_DIR is not a volume: it is a file, not a directory`), JSON.stringify(warned));
    const linked = lines.filter((l) => l.level === 30);
    assert.deepEqual(linked.map((l) => [l.volume, l.target]).sort(), [['big', at('srv/big')], ['lucindadata', at('srv/lucinda')], ['pacsdata', at('srv/pacs')]]);

    // A new entry is named (once), the known ones not again.
    await fs.symlink(at('gone'), at('volumes/new-dangling'));
    try {
      lines.length = 0;
      await listVolumes(dirSource, logger);
      await listVolumes(dirSource, logger);
      assert.deepEqual(lines.map((l) => l.entry ?? l.volume), ['new-dangling']);
    } finally {
      await fs.rm(at('volumes/new-dangling'));
    }
  });
});

/**
 * A share user can write the volume, so can make a `.oob-restore-<id>` of their own, rename ours,
 * and swap any directory for a symlink at any moment. None of it may make the service (root) act
 * outside the volume: a forged work directory is data, ours is used through its descriptor, and
 * an in-place restore reaches every live path through parents opened with O_NOFOLLOW.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { placeBeside, swapPaths } from '../../src/engine/swap/place-paths.js';
import { recoverInterruptedRestores } from '../../src/engine/swap/recovery.js';
import { createWorkDir, OWNER_FILE, removeWorkDir, SWAPPED_MARKER, workDirName } from '../../src/engine/swap/work-dir.js';
import { snapshotTree } from '../helpers/tree.js';
import { exec } from '../helpers/volumes.js';
import { extractArchive } from '../../src/engine/extract/extract-archive.js';
import { restoreChain } from '../../src/engine/incremental/restore-chain.js';
import { madeWorkDir } from '../helpers/work-dir.js';

const silent = pino({ level: 'silent' });
const NOBODY = 65534;
const temps: string[] = [];
after(async () => Promise.all(temps.map((d) => fs.rm(d, { recursive: true, force: true }))));

/** `<root>/volumes/{docs,elexisdb}` and a victim outside both, with known content. */
async function layout(): Promise<{ docs: string; db: string; outside: string; root: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-forged-'));
  temps.push(root);
  const docs = path.join(root, 'volumes', 'docs');
  const db = path.join(root, 'volumes', 'elexisdb');
  const outside = path.join(root, 'outside');
  for (const d of [docs, db, outside]) await fs.mkdir(d, { recursive: true });
  await fs.writeFile(path.join(db, 'ibdata1'), 'the database\n');
  await fs.writeFile(path.join(outside, 'keep.txt'), 'root only\n', { mode: 0o600 });
  return { docs, db, outside, root };
}

const hex = (s: string) => Buffer.from(s).toString('hex');

describe('work directories a share user could forge or swap', { skip: process.geteuid?.() !== 0 && 'needs root (owners)' }, () => {
  it('a .oob-restore-<id> made by a user, with a journal naming other volumes, is data: the recovery touches nothing', async () => {
    const { docs, db, outside, root } = await layout();
    const before = await snapshotTree(root);
    for (const [id, owner, mode] of [['evil', NOBODY, 0o700], ['evil2', 0, 0o755]] as const) {
      const work = path.join(docs, workDirName(id));
      await fs.mkdir(path.join(work, 'old'), { recursive: true });
      await fs.writeFile(path.join(work, OWNER_FILE), JSON.stringify({ id }));
      await fs.writeFile(path.join(work, 'paths.json'), JSON.stringify({ id, paths: [hex('../elexisdb/ibdata1'), hex('../../outside/keep.txt')], made: [hex('../../outside')] }));
      if (id === 'evil2') await fs.writeFile(path.join(work, SWAPPED_MARKER), 'forged\n');
      await fs.chmod(work, mode);
      await fs.chown(work, owner, owner);
    }
    const forged = await snapshotTree(root);
    assert.deepEqual(await recoverInterruptedRestores(docs, silent), []);
    assert.deepEqual(await snapshotTree(root), forged, 'nothing moved, removed or created');
    assert.equal(await fs.readFile(path.join(db, 'ibdata1'), 'utf8'), 'the database\n');
    assert.equal((await fs.stat(path.join(outside, 'keep.txt'))).mode & 0o777, 0o600);
    assert.ok(before.size < forged.size);
  });

  it('the extraction writes only into the work directory it made, whatever is renamed or put in its place meanwhile (full and incremental chain)', async () => {
    // An audit did this while restores ran: GNU tar, applying an incremental, deleted the files of a
    // directory outside the volume through a look-alike's `chain` symlink; a full's extraction
    // followed the name, made a symlink to outside, and wrote there.
    const { docs, outside, root } = await layout();
    const src = path.join(root, 'src');
    await fs.mkdir(path.join(src, 'sub'), { recursive: true });
    await fs.writeFile(path.join(src, 'a.txt'), 'a\n');
    await fs.writeFile(path.join(src, 'sub', 'b.txt'), 'b\n');
    const [l0, l1, snar] = ['l0.tar.gz', 'l1.tar.gz', 'snar'].map((n) => path.join(root, n)) as [string, string, string];
    await exec('tar', ['-czf', l0, '-g', snar, '-C', src, '.']);
    await fs.rm(path.join(src, 'a.txt'));
    await fs.writeFile(path.join(src, 'c.txt'), 'c\n');
    await exec('tar', ['-czf', l1, '-g', snar, '-C', src, '.']);
    const outsideBefore = await snapshotTree(outside);

    const chain = await createWorkDir(docs, 'r4');
    const full = await createWorkDir(docs, 'r5');
    try {
      await fs.rename(path.join(docs, workDirName('r4')), path.join(docs, '.moved-r4'));
      await fs.mkdir(path.join(docs, workDirName('r4')));
      await fs.symlink(outside, path.join(docs, workDirName('r4'), 'chain'));
      await fs.rename(path.join(docs, workDirName('r5')), path.join(docs, '.moved-r5'));
      await fs.symlink(outside, path.join(docs, workDirName('r5')));
      await restoreChain({ files: [l0, l1], stagingDir: path.join(chain.work, 'chain'), logger: silent, writers: { threads: 0 } });
      await extractArchive(l0, full.path, { logger: silent, writers: { threads: 0 } });
    } finally {
      await chain.close();
      await full.close();
    }
    assert.deepEqual(await snapshotTree(outside), outsideBefore, 'nothing outside the volume was written or deleted');
    assert.deepEqual((await fs.readdir(path.join(docs, '.moved-r4', 'chain'))).sort(), ['c.txt', 'sub']);
    assert.deepEqual((await fs.readdir(path.join(docs, '.moved-r5', 'tree'))).sort(), ['a.txt', 'sub']);
  });

  it('a work directory replaced between its mkdir and its opening is refused before anything is written', async () => {
    const { docs, outside } = await layout();
    const name = path.join(docs, workDirName('r6'));
    // What a share user could put there: a directory of their own (a symlink fails the O_NOFOLLOW open).
    await fs.mkdir(name, { mode: 0o700 });
    await fs.chown(name, NOBODY, NOBODY);
    await assert.rejects(createWorkDir(docs, 'r6'), /already exists; it is not overwritten/);
    await fs.rm(name, { recursive: true });
    await fs.symlink(outside, name);
    await assert.rejects(createWorkDir(docs, 'r6'), /already exists; it is not overwritten/);
    assert.deepEqual(await fs.readdir(outside), ['keep.txt']);
  });

  it('beside: our work directory renamed away and a user\'s put in its place is refused, nothing is followed', async () => {
    const { docs, outside } = await layout();
    const tree = await madeWorkDir(docs, 'r1');
    await fs.mkdir(tree);
    await fs.writeFile(path.join(tree, 'letter.txt'), 'restored\n');
    const ours = path.join(docs, workDirName('r1'));
    await fs.rename(ours, path.join(docs, '.stolen'));
    await fs.mkdir(ours, { mode: 0o700 });
    await fs.writeFile(path.join(ours, OWNER_FILE), JSON.stringify({ id: 'r1' }));
    await fs.symlink(path.join(outside, 'keep.txt'), path.join(ours, 'tree'));
    await fs.chown(ours, NOBODY, NOBODY);
    await assert.rejects(placeBeside(docs, 'r1', { folder: 'Wiederhergestellt', extras: [], keepDirs: new Set(), mode: 0o755 }), /is not the work directory of restore r1/);
    assert.equal((await fs.stat(path.join(outside, 'keep.txt'))).mode & 0o777, 0o600, 'no chmod through the symlink');
    // The failed restore drops its staging: ours is found under the name it was renamed to, the user's is left alone.
    assert.equal(await removeWorkDir(docs, 'r1', silent), true);
    assert.deepEqual((await fs.readdir(docs)).sort(), [workDirName('r1')]);
    assert.equal((await fs.lstat(path.join(ours, 'tree'))).isSymbolicLink(), true);
  });

  it('in place: a live folder swapped for a symlink to another volume after the checks is not followed; the swap is rolled back', async () => {
    const { docs, db } = await layout();
    await fs.mkdir(path.join(docs, 'b'));
    await fs.writeFile(path.join(docs, 'b', 'ibdata1'), 'live document\n');
    const tree = await madeWorkDir(docs, 'r2');
    await fs.mkdir(path.join(tree, 'b'), { recursive: true });
    await fs.writeFile(path.join(tree, 'b', 'ibdata1'), 'from the backup\n');
    const dbBefore = await snapshotTree(db);
    const racing = async () => {
      // What a user racing the restore does: the folder becomes a symlink to the database volume.
      await fs.rename(path.join(docs, 'b'), path.join(docs, 'b-real'));
      await fs.symlink('../elexisdb', path.join(docs, 'b'));
    };
    // Nothing had moved: the swap says every path is as it was (not that a rollback is incomplete).
    await assert.rejects(swapPaths(docs, 'r2', ['b/ibdata1'], { beforePath: racing }), /^Error: restoring the paths in place failed, every path was put back as it was \(.*not a directory \(a symlink or a file\)/);
    assert.deepEqual(await snapshotTree(db), dbBefore, 'the other volume is untouched');
    assert.equal(await fs.readFile(path.join(docs, 'b-real', 'ibdata1'), 'utf8'), 'live document\n');
  });
});

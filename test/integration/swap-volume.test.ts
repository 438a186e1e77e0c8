import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { recoverInterruptedRestores } from '../../src/engine/swap/recovery.js';
import { commitSwap, finishCommitted, SimulatedCrash, swapIn } from '../../src/engine/swap/swap-volume.js';
import { createWorkDir, JOURNAL, removeWorkDir, SWAPPED_MARKER, workDirName } from '../../src/engine/swap/work-dir.js';
import { dirTimesOf, fileTimesEngine, putDirTimes } from '../../src/engine/fs/file-times.js';
import { assertSameTree, ignoreRoot, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { makeVolume } from '../helpers/volumes.js';
import { madeWorkDir } from '../helpers/work-dir.js';

const silent = pino({ level: 'silent' });
const isRoot = process.getuid?.() === 0;
const ID = '0b7c2a52-5d3e-4d7e-9a31-2f0d9c1e8b11';
const ROOT_TIMES = { atimeNs: 1_420_070_400_987_654_321n, mtimeNs: 1_420_070_400_123_456_789n };

let tmpRoot = '';
let caseNo = 0;

before(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'oob-swap-'));
});
after(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

/**
 * A volume with content A (some names shared with B, some not, one named like the brief's marker)
 * and a staging directory with content B. Returns the snapshots to compare against.
 */
async function setup() {
  const vol = path.join(tmpRoot, `case${++caseNo}`, 'vol');
  await mkdir(vol, { recursive: true });
  await makeVolume(vol, 'A');
  await writeFile(path.join(vol, 'only-in-a.txt'), 'A\n');
  await mkdir(path.join(vol, 'a-dir/sub'), { recursive: true });
  await writeFile(path.join(vol, 'a-dir/sub/f'), 'a\n');
  // A volume may hold anything, even names a naive recovery would take for its own: a commit
  // marker, a directory with our prefix (without our restore.json it is the user's data).
  await writeFile(path.join(vol, '.oob-swapped'), 'user data\n');
  await mkdir(path.join(vol, '.oob-restore-mine'));
  await writeFile(path.join(vol, '.oob-restore-mine/journal.json'), 'user data\n');
  // Names are bytes: a Latin-1 name moves out and back like any other.
  await writeFile(Buffer.from(`${vol}/Bericht_M\xfcller.txt`, 'latin1'), 'A latin1\n');
  // Below the millisecond, which a Date cannot hold: a rollback puts the root's times back exactly.
  await putDirTimes(vol, ROOT_TIMES);

  const staging = await madeWorkDir(vol, ID);
  await mkdir(staging, { mode: 0o700 });
  await makeVolume(staging, 'B');
  await writeFile(Buffer.from(`${staging}/Bericht_M\xfcller.txt`, 'latin1'), 'B latin1\n');
  await writeFile(path.join(staging, 'only-in-b.txt'), 'B\n');
  await symlink('only-in-b.txt', path.join(staging, 'b-link'));
  await mkdir(path.join(staging, 'b-dir/deep'), { recursive: true });
  await writeFile(path.join(staging, 'b-dir/deep/g'), 'b\n');

  const a = withoutReserved(await snapshotTree(vol));
  const b = await snapshotTree(staging);
  return { vol, staging, old: path.join(vol, workDirName(ID), 'old'), a, b };
}

function withoutReserved(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  return new Map([...tree].filter(([p]) => p !== workDirName(ID) && !p.startsWith(`${workDirName(ID)}/`)));
}

async function reservedNames(vol: string): Promise<string[]> {
  return (await readdir(vol)).filter((n) => n === workDirName(ID));
}

const rootMeta = { mode: 0o751, uid: 1234, gid: 5678, mtimeSec: Date.parse('2020-05-06T07:08:09Z') / 1000, mtimeNsec: 250_000_000 };

async function assertRootMeta(vol: string): Promise<void> {
  const st = await stat(vol);
  assert.equal(st.mode & 0o7777, rootMeta.mode);
  if (isRoot) assert.deepEqual([st.uid, st.gid], [rootMeta.uid, rootMeta.gid]);
  assert.equal(st.mtimeMs, rootMeta.mtimeSec * 1000 + 250);
}

describe('names', () => {
  it('builds and validates names', () => {
    assert.equal(workDirName(ID), `.oob-restore-${ID}`);
    assert.throws(() => workDirName('../x'), /invalid restore id/);
    assert.throws(() => workDirName(''), /invalid restore id/);
  });

  it('fails loudly when the work directory name is taken', async () => {
    const { vol } = await setup();
    await assert.rejects(createWorkDir(vol, ID), /already exists; it is not overwritten/);
  });

  it('removeWorkDir drops a staging directory, but never a work directory whose old/ holds originals', async () => {
    const { vol, old } = await setup();
    await mkdir(old);
    await writeFile(path.join(old, 'original.txt'), 'the only copy\n');
    assert.equal(await removeWorkDir(vol, ID, silent), false);
    assert.equal(await readFile(path.join(old, 'original.txt'), 'utf8'), 'the only copy\n');
    await rm(path.join(old, 'original.txt'));
    assert.equal(await removeWorkDir(vol, ID, silent), true);
    assert.deepEqual(await reservedNames(vol), []);
  });
});

describe('swapIn', () => {
  it('commitSwap makes the staged content live and committed; the previous data waits for finishCommitted', async () => {
    const { vol, old, a, b } = await setup();
    assert.deepEqual(await commitSwap(vol, { id: ID, rootMeta, logger: silent }), { moved: 10, previousEntries: 11 });
    assertSameTree(b, withoutReserved(await snapshotTree(vol)), { ignore: ignoreRoot });
    assertSameTree(a, await snapshotTree(old), { ignore: ignoreRoot });
    await stat(path.join(vol, workDirName(ID), SWAPPED_MARKER)); // committed: a crash now is finished, not rolled back
    await finishCommitted(vol, ID, rootMeta, silent);
    assertSameTree(b, await snapshotTree(vol), { ignore: ignoreRoot });
    assert.deepEqual(await reservedNames(vol), []);
    await assertRootMeta(vol); // applied after the removal, which changed the root's mtime
  });

  it('replaces the volume content by the staged content', async () => {
    const { vol, b } = await setup();
    const r = await swapIn(vol, { id: ID, rootMeta, logger: silent });
    assert.deepEqual(r, { moved: 10, previousEntries: 11 }); // top-level entries of B and A
    assertSameTree(b, await snapshotTree(vol), { ignore: ignoreRoot });
    assert.deepEqual(await reservedNames(vol), []);
    await assertRootMeta(vol);
  });

  for (const failAfterRenames of [0, 2]) {
    it(`rolls back when phase 2 fails after ${failAfterRenames} renames`, async () => {
      const { vol, staging, a } = await setup();
      const timesBefore = await dirTimesOf(vol);
      await assert.rejects(swapIn(vol, { id: ID, rootMeta, logger: silent, failAfterRenames }), (err: Error) => {
        assert.match(err.message, /the volume was rolled back to its previous content/);
        assert.match(err.message, new RegExp(`test hook: swap failed after ${failAfterRenames} renames`));
        return true;
      });
      // Byte-identical, root mtime included (to the nanosecond); staging is removed after the rollback.
      assertSameTree(a, await snapshotTree(vol));
      // (The atime is not compared: reading the tree moves it, relatime.)
      if (fileTimesEngine().exact) assert.equal((await dirTimesOf(vol)).mtimeNs, timesBefore.mtimeNs);
      assert.deepEqual(await reservedNames(vol), []);
      await assert.rejects(lstat(staging), /ENOENT/);
    });
  }

  it('refuses to run without a staging directory or with a leftover old directory', async () => {
    const { vol, staging, old, a } = await setup();
    await mkdir(old);
    await assert.rejects(swapIn(vol, { id: ID, logger: silent }), /already exists/);
    await rm(old, { recursive: true });
    await rm(staging, { recursive: true });
    assert.ok((await readFile(path.join(vol, '.oob-restore-mine/journal.json'), 'utf8')).includes('user data'));
    await assert.rejects(swapIn(vol, { id: ID, logger: silent }), /staging directory .* does not exist/);
    // The test itself created and removed directories in the root, which moves the root's mtime.
    assertSameTree(a, withoutReserved(await snapshotTree(vol)), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });
});

describe('recoverInterruptedRestores', () => {
  it('does nothing on a clean volume', async () => {
    const { vol } = await setup();
    await rm(path.join(vol, workDirName(ID)), { recursive: true });
    assert.deepEqual(await recoverInterruptedRestores(vol, silent), []);
    // The user's own .oob-restore-mine (no restore.json of ours) is left alone.
    assert.equal(await readFile(path.join(vol, '.oob-restore-mine/journal.json'), 'utf8'), 'user data\n');
  });

  it('removes a staging directory that never reached the swap', async () => {
    const { vol, a } = await setup();
    const actions = await recoverInterruptedRestores(vol, silent);
    assert.equal(actions.length, 1);
    assert.match(actions[0]!, /removed the staging directory/);
    assert.deepEqual(await reservedNames(vol), []);
    assertSameTree(a, await snapshotTree(vol), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
  });

  // 11 top-level entries in A, 10 in B: killed during phase 1, at its end (before the journal),
  // during phase 2, after its last rename (before the commit marker).
  for (const crashAfterRenames of [1, 6, 11, 13, 21]) {
    it(`rolls back a swap killed after ${crashAfterRenames} renames`, async () => {
      const { vol, old, a } = await setup();
      await assert.rejects(swapIn(vol, { id: ID, rootMeta, logger: silent, crashAfterRenames }), SimulatedCrash);
      assert.ok((await readdir(old)).length > 0);
      if (crashAfterRenames > 11) assert.ok((await readdir(path.join(vol, workDirName(ID)))).includes(JOURNAL));

      const actions = await recoverInterruptedRestores(vol, silent);
      assert.equal(actions.length, 1);
      assert.match(actions[0]!, /rolled back an interrupted swap/);
      assertSameTree(a, await snapshotTree(vol), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
      // The times from before the work directory was made, to the nanosecond (restore.json keeps them).
      if (fileTimesEngine().exact) assert.equal((await dirTimesOf(vol)).mtimeNs, ROOT_TIMES.mtimeNs);
      assert.deepEqual(await reservedNames(vol), []);
      assert.equal(await readFile(path.join(vol, '.oob-swapped'), 'utf8'), 'user data\n');
    });
  }

  it('completes a swap killed after its commit marker', async () => {
    const { vol, b } = await setup();
    await assert.rejects(swapIn(vol, { id: ID, rootMeta, logger: silent, crashAfterRenames: 'marker' }), SimulatedCrash);
    assert.ok((await readdir(path.join(vol, workDirName(ID)))).includes(SWAPPED_MARKER));
    const actions = await recoverInterruptedRestores(vol, silent);
    assert.equal(actions.length, 1);
    assert.match(actions[0]!, /the swap had completed/);
    assertSameTree(b, await snapshotTree(vol), { ignore: ignoreRoot });
    assert.deepEqual(await reservedNames(vol), []);
    await assertRootMeta(vol); // from the journal
  });

  it('completes a swap killed after its commit marker from a journal of an earlier version (mtime as an ISO date)', async () => {
    const { vol } = await setup();
    await assert.rejects(swapIn(vol, { id: ID, rootMeta, logger: silent, crashAfterRenames: 'marker' }), SimulatedCrash);
    const journalFile = path.join(vol, workDirName(ID), JOURNAL);
    const journal = JSON.parse(await readFile(journalFile, 'utf8'));
    const { mtimeSec, mtimeNsec, ...rest } = journal.rootMeta;
    journal.rootMeta = { ...rest, mtime: new Date(mtimeSec * 1000 + mtimeNsec / 1e6).toISOString() };
    await writeFile(journalFile, JSON.stringify(journal));
    assert.match((await recoverInterruptedRestores(vol, silent))[0]!, /the swap had completed/);
    await assertRootMeta(vol);
  });

  it('never deletes an original it cannot put back, and finishes on a later run', async () => {
    const { vol, old, a } = await setup();
    await assert.rejects(swapIn(vol, { id: ID, logger: silent, crashAfterRenames: 14 }), SimulatedCrash);
    // Someone created an entry with an original's name in the meantime.
    await writeFile(path.join(vol, 'only-in-a.txt'), 'intruder\n');

    await assert.rejects(recoverInterruptedRestores(vol, silent), /"only-in-a\.txt": the name is taken/);
    assert.equal(await readFile(path.join(old, 'only-in-a.txt'), 'utf8'), 'A\n');
    // Everything else is back already; the staging directory is kept until the old one is gone.
    assert.ok((await reservedNames(vol)).includes(workDirName(ID)));

    // A failed job drops its staging with removeWorkDir: never while old/ holds an original.
    assert.equal(await removeWorkDir(vol, ID, silent), false);
    assert.equal(await readFile(path.join(old, 'only-in-a.txt'), 'utf8'), 'A\n');

    await rm(path.join(vol, 'only-in-a.txt'));
    const actions = await recoverInterruptedRestores(vol, silent);
    assert.match(actions[0]!, /rolled back an interrupted swap \(1 original entries put back/);
    assertSameTree(a, await snapshotTree(vol), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    assert.deepEqual(await reservedNames(vol), []);
  });
});

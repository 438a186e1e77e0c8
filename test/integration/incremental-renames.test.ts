/**
 * Renamed directories in incremental mode. GNU tar records a rename in the incremental, but its
 * own extraction cannot apply every one: a directory renamed onto the name of one removed the
 * same night ("Cannot rename './d/A' to './d/B': Directory not empty"), two directories that
 * swapped names (its temporary directory is made relative to the working directory). Such an
 * incremental verified, yet no point of its chain could be restored from then on (found by a
 * tester). A run with a rename onto a name that was there now writes a new full instead; the chain
 * goes on from it, and every point restores. A rename to a new name stays in the incremental.
 * An audit found renames below a parent renamed the same night that the names alone do not show:
 * onto an existing name or a swap inside the renamed parent, and a child moved out of it whose
 * record GNU tar writes first, under the parent's new name. The run now replays GNU tar's records
 * on paper (rename-replay.ts) and writes a full for these too; the cases that replay stay
 * incrementals.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { http, makeFixture, restoreAndWait, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type CompareOptions, type TreeEntry } from '../helpers/tree.js';
import { exec } from '../helpers/volumes.js';

describe('directories renamed between incremental runs', () => {
  let fx: Fixture;
  let svc: Service;
  let vol = '';
  const stamps: string[] = [];
  const trees: Map<string, TreeEntry>[] = [];
  const nextRun = async () => {
    await fx.clock.advance(60_000);
    stamps.push(await runNowAndSettle(svc.url));
    trees.push(await snapshotTree(vol));
  };
  const files = async () => (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    vol = path.join(fx.volumesDir, 'pacsdata');
    for (const d of ['A', 'B', 'C', 'E']) {
      await fs.mkdir(path.join(vol, 'd', d), { recursive: true });
      await fs.writeFile(path.join(vol, 'd', d, `${d}.dcm`), `study ${d}\n`.repeat(500));
    }
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 7 })).status, 200);
    await nextRun(); // 0: the full
    await fs.rm(path.join(vol, 'd', 'B'), { recursive: true });
    await fs.rename(path.join(vol, 'd', 'A'), path.join(vol, 'd', 'B'));
    await nextRun(); // 1: a rename onto a removed directory's name
    await fs.writeFile(path.join(vol, 'd', 'new.dcm'), 'a new study\n');
    await nextRun(); // 2: an ordinary change
    await fs.rename(path.join(vol, 'd', 'C'), path.join(vol, 'd', 't'));
    await fs.rename(path.join(vol, 'd', 'E'), path.join(vol, 'd', 'C'));
    await fs.rename(path.join(vol, 'd', 't'), path.join(vol, 'd', 'E'));
    await nextRun(); // 3: two directories swap names
    await fs.appendFile(path.join(vol, 'd', 'new.dcm'), 'changed\n');
    await nextRun(); // 4: an ordinary change again
    await fs.rename(path.join(vol, 'd', 'E'), path.join(vol, 'd', 'F'));
    await nextRun(); // 5: a rename to a new name, which GNU tar replays: an incremental
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('a run with a directory renamed onto a name that was there writes a new full, said in the log; the chain goes on from it; a rename to a new name stays incremental', async () => {
    assert.deepEqual(await files(), [
      `pacsdata_${stamps[0]}.tar.gz`,
      `pacsdata_${stamps[1]}.tar.gz`,
      `pacsdata_${stamps[2]}.inc.tar.gz`,
      `pacsdata_${stamps[3]}.tar.gz`,
      `pacsdata_${stamps[4]}.inc.tar.gz`,
      `pacsdata_${stamps[5]}.inc.tar.gz`,
    ]);
    assert.match(svc.logs(), /directories were renamed in a way GNU tar cannot replay on restore \([^)]*d\/B[^)]*Directory has been renamed from [^)]*d\/A[^)]*, onto a name that was there at the previous run.*?: this run writes a new full instead/);
    assert.match(svc.logs(), /directories swapped names: GNU tar's restore makes its temporary directory outside the volume/);
  });

  it('every point restores exactly, through the API and by hand with GNU tar as README says', async () => {
    for (const i of [2, 5]) {
      const r = await restoreAndWait(svc.url, { stamp: stamps[i], skipSafetyBackup: true });
      assert.equal(r.state, 'completed', r.failedReason);
      assertSameTree(trees[i]!, await snapshotTree(vol), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
      // The summary counts the point's files, not its full's.
      assert.equal(r.summary.volumes[0].files, [...trees[i]!.values()].filter((e) => e.type !== 'dir').length);
      const byHand = path.join(fx.root, `by-hand-${i}`);
      await fs.mkdir(byHand);
      const chain = i === 2 ? [`pacsdata_${stamps[1]}.tar.gz`, `pacsdata_${stamps[2]}.inc.tar.gz`] : [`pacsdata_${stamps[3]}.tar.gz`, `pacsdata_${stamps[4]}.inc.tar.gz`, `pacsdata_${stamps[5]}.inc.tar.gz`];
      for (const f of chain) await exec('tar', ['-C', byHand, '-xzpf', path.join(fx.backupDir, f), '-g', '/dev/null']);
      assertSameTree(trees[i]!, await snapshotTree(byHand), { ignore: (p) => (p === '.' ? ['mtime'] : []) });
    }
  });
});

describe('directories renamed in the same night as their parent (found by an audit)', () => {
  let fx: Fixture;
  let svc: Service;
  let vol = '';
  const stamps: string[] = [];
  const trees: Map<string, TreeEntry>[] = [];
  const nextRun = async (...moves: [string, string][]) => {
    for (const [from, to] of moves) await fs.rename(path.join(vol, from), path.join(vol, to));
    await fx.clock.advance(60_000);
    stamps.push(await runNowAndSettle(svc.url));
    trees.push(await snapshotTree(vol));
  };
  const files = async () => (await fs.readdir(fx.backupDir)).filter((n) => n.endsWith('.tar.gz')).sort();

  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    vol = path.join(fx.volumesDir, 'pacsdata');
    for (const d of ['P/A', 'P/B', 'S/A', 'S/B', 'T/N0', 'U/N0', 'K/N0']) {
      await fs.mkdir(path.join(vol, d), { recursive: true });
      await fs.writeFile(path.join(vol, d, 'study.dcm'), `study ${d}\n`.repeat(50));
    }
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 7 })).status, 200);
    await nextRun(); // 0: the full
    // 1: onto a removed directory's name inside a renamed parent; GNU tar's records: P → P2, then
    // P2/A → P2/B while P2/B (the old P/B) is still there.
    await fs.rename(path.join(vol, 'P'), path.join(vol, 'P2'));
    await fs.rm(path.join(vol, 'P2', 'B'), { recursive: true });
    await nextRun(['P2/A', 'P2/B']);
    await fs.writeFile(path.join(vol, 'K', 'new.dcm'), 'a new study\n');
    await nextRun(); // 2: an ordinary change
    await nextRun(['S', 'S2'], ['S2/A', 'S2/tmp'], ['S2/B', 'S2/A'], ['S2/tmp', 'S2/B']); // 3: a swap inside a renamed parent
    // 4: a child moved out of its parent, which is renamed: the child's record comes first and names
    // it under the parent's new name ("Cannot rename './T3/N0' to './N0b': No such file or directory").
    await nextRun(['T/N0', 'N0b'], ['T', 'T3']);
    await nextRun(['U/N0', 'Zout'], ['U', 'U3']); // 5: the same with the parent's record first: replays
    await fs.mkdir(path.join(vol, 'NEWP'));
    await nextRun(['K/N0', 'NEWP/A0'], ['K', 'NEWP/K3']); // 6: both into a new directory, the child's name sorting first
    await nextRun(['P2/B', 'P2/B2'], ['P2', 'P4'], ['NEWP/K3', 'NEWP/Z']); // 7: a child renamed inside a renamed parent: replays
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('a run whose renames GNU tar could not replay writes a new full, said in the log; the others stay incrementals', async () => {
    assert.deepEqual(await files(), [
      `pacsdata_${stamps[0]}.tar.gz`,
      `pacsdata_${stamps[1]}.tar.gz`,
      `pacsdata_${stamps[2]}.inc.tar.gz`,
      `pacsdata_${stamps[3]}.tar.gz`,
      `pacsdata_${stamps[4]}.tar.gz`,
      `pacsdata_${stamps[5]}.inc.tar.gz`,
      `pacsdata_${stamps[6]}.tar.gz`,
      `pacsdata_${stamps[7]}.inc.tar.gz`,
    ]);
    const q = (name: string) => `\\\\?"\\./${name}\\\\?"`;
    for (const why of [
      `would rename ${q('P2/A')} to ${q('P2/B')}, whose name is taken then`,
      `would rename ${q('S2/B')} to ${q('S2/A')}, whose name is taken then`,
      `would rename ${q('T3/N0')} to ${q('N0b')}, which is not there then`,
      `would rename ${q('NEWP/K3/N0')} to ${q('NEWP/A0')}, which is not there then`,
    ]) assert.match(svc.logs(), new RegExp(`directories were renamed in a way GNU tar cannot replay on restore \\(GNU tar's restore ${why}[^\\n]*?: this run writes a new full instead`));
  });

  it('every point restores exactly, by hand with GNU tar as README says, and through the API', async () => {
    const ignore: CompareOptions = { ignore: (p) => (p === '.' ? ['mtime'] : []) };
    const names = await files();
    for (let i = 0; i < stamps.length; i++) {
      const upTo = names.findIndex((n) => n.startsWith(`pacsdata_${stamps[i]}.`));
      let full = upTo;
      while (names[full]!.endsWith('.inc.tar.gz')) full--;
      const byHand = path.join(fx.root, `by-hand-${i}`);
      await fs.mkdir(byHand);
      for (const f of names.slice(full, upTo + 1)) await exec('tar', ['-C', byHand, '-xzpf', path.join(fx.backupDir, f), '-g', '/dev/null']);
      assertSameTree(trees[i]!, await snapshotTree(byHand), ignore);
    }
    for (const i of [2, 5, 7]) {
      const r = await restoreAndWait(svc.url, { stamp: stamps[i], skipSafetyBackup: true });
      assert.equal(r.state, 'completed', r.failedReason);
      assertSameTree(trees[i]!, await snapshotTree(vol), ignore);
    }
  });
});

describe('a chain whose full was moved away (its sidecars left behind)', () => {
  let fx: Fixture;
  let svc: Service;
  let vol = '';
  const stamps: string[] = [];
  before(async () => {
    fx = await makeFixture({}, { clock: TEST_START });
    vol = path.join(fx.volumesDir, 'pacsdata');
    await fs.mkdir(path.join(vol, 'd'), { recursive: true });
    await fs.writeFile(path.join(vol, 'd', 'a.dcm'), 'a study\n');
    svc = await startService('start', fx.env);
    assert.equal((await http(svc.url, 'PUT', '/api/volumes/pacsdata', { mode: 'incremental', fullEvery: 7 })).status, 200);
    for (const change of ['b', 'c']) {
      await fx.clock.advance(60_000);
      stamps.push(await runNowAndSettle(svc.url));
      await fs.writeFile(path.join(vol, 'd', `${change}.dcm`), `${change}\n`);
    }
    await fs.rename(path.join(fx.backupDir, `pacsdata_${stamps[0]}.tar.gz`), path.join(fx.root, 'moved-away.tar.gz'));
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('is named as missing: 422 when browsed, a restore that fails saying so and changing nothing', async () => {
    const missing = new RegExp(`pacsdata_${stamps[0]}\\.tar\\.gz, which this archive needs, is missing from BACKUP_DIR`);
    const browse = await http(svc.url, 'GET', `/api/backups/${stamps[1]}/archives/pacsdata/entries?dir=d`);
    assert.equal(browse.status, 422, JSON.stringify(browse.body));
    assert.match(browse.body.error.message, missing);
    const before = await snapshotTree(vol);
    const r = await restoreAndWait(svc.url, { stamp: stamps[1], skipSafetyBackup: true });
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason, missing);
    assert.match(r.failedReason, /; nothing was changed$/);
    assertSameTree(before, await snapshotTree(vol));
  });
});

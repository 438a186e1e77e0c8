import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArchiveName, type ArchiveName } from '../../src/core/names.js';
import { chainAwareNotAGeneration, chainNeeds, contiguousChainNeeds, pruneDeletes, isSizeDrop, notAGeneration, remoteSizeDrops, safetyBackupsPast, selectPrunable, withoutNeeded } from '../../src/core/retention.js';

const a = (file: string) => parseArchiveName(file) as ArchiveName;

describe('selectPrunable', () => {
  const archives = [
    a('elexisdb_2026-11-18-0315.tar.gz'),
    a('elexisdb_2026-11-21-0315.tar.gz'),
    a('elexisdb_2026-11-19-0315.tar.gz'),
    a('elexisdb_2025-12-31-2359.tar.gz'),
    a('pacsdata_2020-01-01-0315.tar.gz'),
  ];

  it('keeps the newest `keep` archives of the volume by stamp, whatever the listing order', () => {
    assert.deepEqual(
      selectPrunable(archives, 'elexisdb', 2).map((x) => x.file),
      ['elexisdb_2026-11-18-0315.tar.gz', 'elexisdb_2025-12-31-2359.tar.gz'],
    );
  });

  it('counts generations per volume', () => {
    assert.deepEqual(selectPrunable(archives, 'pacsdata', 1), []);
    assert.deepEqual(selectPrunable(archives, 'lucindadata', 1), []);
  });

  it('removes nothing when there are at most `keep`', () => {
    assert.deepEqual(selectPrunable(archives, 'elexisdb', 4), []);
    assert.deepEqual(selectPrunable(archives, 'elexisdb', 10), []);
  });

  for (const keep of [0, -1, 1.5, Number.NaN]) {
    it(`refuses keep=${keep}`, () => assert.throws(() => selectPrunable(archives, 'elexisdb', keep), /keep/));
  }
});

describe('selectPrunable with incremental chains (issue 16)', () => {
  // Two chains: full 01 + incrementals 02, 03; full 04 + incremental 05.
  const list = [
    a('pacsdata_2026-12-01-0315.tar.gz'),
    a('pacsdata_2026-12-02-0315.inc.tar.gz'),
    a('pacsdata_2026-12-03-0315.inc.tar.gz'),
    a('pacsdata_2026-12-04-0315.tar.gz'),
    a('pacsdata_2026-12-05-0315.inc.tar.gz'),
  ];
  const chain: Record<string, string[]> = {
    'pacsdata_2026-12-02-0315.inc.tar.gz': ['pacsdata_2026-12-01-0315.tar.gz'],
    'pacsdata_2026-12-03-0315.inc.tar.gz': ['pacsdata_2026-12-01-0315.tar.gz', 'pacsdata_2026-12-02-0315.inc.tar.gz'],
    'pacsdata_2026-12-05-0315.inc.tar.gz': ['pacsdata_2026-12-04-0315.tar.gz'],
  };
  const needs = (x: ArchiveName) => chain[x.file] ?? [];
  const pruned = (keep: number) => selectPrunable(list, 'pacsdata', keep, () => false, needs).map((x) => x.file);

  it('never prunes a full (or an incremental) that a kept incremental needs', () => {
    assert.deepEqual(pruned(1), ['pacsdata_2026-12-03-0315.inc.tar.gz', 'pacsdata_2026-12-02-0315.inc.tar.gz', 'pacsdata_2026-12-01-0315.tar.gz']);
    assert.deepEqual(pruned(2), ['pacsdata_2026-12-03-0315.inc.tar.gz', 'pacsdata_2026-12-02-0315.inc.tar.gz', 'pacsdata_2026-12-01-0315.tar.gz']);
  });

  it('an incremental whose manifest cannot tell what it needs keeps everything older of its volume', () => {
    const listed = list.map((x) => ({ ...x, basedOn: x.file === 'pacsdata_2026-12-03-0315.inc.tar.gz' ? [] : (chain[x.file] ?? []) }));
    const doomed = selectPrunable(listed, 'pacsdata', 3, () => false, chainNeeds(listed)).map((x) => x.file);
    assert.deepEqual(doomed, []);
    assert.deepEqual(selectPrunable(listed, 'pacsdata', 2, () => false, chainNeeds(listed)).map((x) => x.file).length, 3);
  });

  it('keeps a whole older chain while one of its points is among the `keep` newest', () => {
    assert.deepEqual(pruned(3), []);
    assert.deepEqual(pruned(5), []);
  });
});

describe('an incremental on a full that failed its verification later is no generation (found by an audit)', () => {
  // Good chain F0 + I0; chain F1 (failed when verified again) + I1..I3 (each ok when made); a good full F2.
  const files = ['2026-11-01-0315.tar.gz', '2026-11-02-0315.inc.tar.gz', '2026-11-08-0315.tar.gz', '2026-11-09-0315.inc.tar.gz', '2026-11-10-0315.inc.tar.gz', '2026-11-11-0315.inc.tar.gz', '2026-11-15-0315.tar.gz'];
  const list = files.map((f) => {
    const name = a(`pacsdata_${f}`);
    const failed = f.startsWith('2026-11-08');
    const basedOn = name.incremental ? files.filter((g) => g < f && g >= (f < '2026-11-08' ? '2026-11-01' : '2026-11-08')).map((g) => `pacsdata_${g}`) : [];
    return { ...name, basedOn, sizeDrop: null, safetyFor: null, verified: { ok: !failed } };
  });
  const needs = chainNeeds(list);

  it('keep 2 and 3 keep the older good chain: the incrementals on the bad full do not count', () => {
    const notGeneration = chainAwareNotAGeneration(list, needs);
    assert.deepEqual(list.filter(notGeneration).map((x) => x.stamp), ['2026-11-08-0315', '2026-11-09-0315', '2026-11-10-0315', '2026-11-11-0315']);
    for (const keep of [2, 3]) {
      const pruned = selectPrunable(list, 'pacsdata', keep, notGeneration, needs).map((x) => x.file);
      assert.ok(!pruned.includes('pacsdata_2026-11-01-0315.tar.gz') && !pruned.includes('pacsdata_2026-11-02-0315.inc.tar.gz'), `keep ${keep}: ${pruned.join(', ')}`);
    }
    // Counted as they were before, the bad chain's incrementals pushed the good chain out.
    const before = selectPrunable(list, 'pacsdata', 3, notAGeneration, needs).map((x) => x.file);
    assert.ok(before.includes('pacsdata_2026-11-01-0315.tar.gz'));
  });
});

describe("what a prune deletes of the policy's choice (found by an audit)", () => {
  const F = a('pacsdata_2026-11-01-0315.tar.gz');
  const I = a('pacsdata_2026-11-02-0315.inc.tar.gz');
  const newer = a('pacsdata_2026-11-02-1000.tar.gz');
  const future = a('pacsdata_2027-06-01-0315.inc.tar.gz');
  const based: Record<string, string[]> = { [I.file]: [F.file], [future.file]: [F.file, I.file] };
  const needs = (x: ArchiveName) => based[x.file] ?? [];

  it("never the run's own archive, nor the full it continues (keep 1 after a newer full)", () => {
    const chosen = selectPrunable([F, I, newer], 'pacsdata', 1, () => false, needs);
    assert.deepEqual(chosen.map((x) => x.file), [I.file, F.file]);
    assert.deepEqual(pruneDeletes([F, I, newer], chosen, I.file, needs), []);
    assert.deepEqual(pruneDeletes([F, I, newer], chosen, newer.file, needs).map((x) => x.file), [I.file, F.file]);
  });

  it('never what an archive stamped in the future needs (it is not pruned, so its chain stays)', () => {
    const chosen = selectPrunable([F, I, newer], 'pacsdata', 1, () => false, needs);
    assert.deepEqual(pruneDeletes([F, I, newer, future], chosen, newer.file, needs), []);
  });
});

describe('chains without manifests (an off-site target) and what a kept archive needs', () => {
  const list = [
    a('pacsdata_2026-12-01-0315.tar.gz'),
    a('pacsdata_2026-12-02-0315.inc.tar.gz'),
    a('pacsdata_2026-12-03-0315.inc.tar.gz'),
    a('pacsdata_2026-12-04-0315.tar.gz'),
    a('pacsdata_2026-12-05-0315.inc.tar.gz'),
    a('lucindadata_2026-12-01-0315.tar.gz'),
  ];
  const needs = contiguousChainNeeds(list);

  it('an incremental needs every archive of its volume from the newest full before it on', () => {
    assert.deepEqual(needs(list[2]!), ['pacsdata_2026-12-01-0315.tar.gz', 'pacsdata_2026-12-02-0315.inc.tar.gz']);
    assert.deepEqual(needs(list[4]!), ['pacsdata_2026-12-04-0315.tar.gz']);
    assert.deepEqual(needs(list[3]!), [], 'a full needs nothing');
  });

  it('keeps what a kept archive needs out of the doomed ones, whichever rule chose them', () => {
    // A policy that keeps only the newest (05) and, say, 03 for its copies: 01 and 02 stay for 03.
    const doomed = list.filter((x) => ['pacsdata_2026-12-01-0315.tar.gz', 'pacsdata_2026-12-02-0315.inc.tar.gz', 'pacsdata_2026-12-04-0315.tar.gz'].includes(x.file));
    assert.deepEqual(withoutNeeded(list, doomed, needs).map((x) => x.file), []);
    const older = list.filter((x) => x.volume === 'pacsdata' && x.stamp < '2026-12-04');
    assert.deepEqual(withoutNeeded(list, older, needs).map((x) => x.file), older.map((x) => x.file), 'a whole older chain goes when nothing kept needs it');
  });
});

describe('selectPrunable with size-drop flags', () => {
  const list = [
    a('elexisdb_2026-11-16-0315.tar.gz'),
    a('elexisdb_2026-11-17-0315.tar.gz'),
    a('elexisdb_2026-11-18-0315.tar.gz'),
    a('elexisdb_2026-11-19-0315.tar.gz'),
    a('elexisdb_2026-11-20-0315.tar.gz'),
  ];
  const flaggedStamps = new Set(['2026-11-20-0315']);
  const flagged = (x: ArchiveName) => flaggedStamps.has(x.stamp);

  it('keeps the flagged archive plus `keep` unflagged ones', () => {
    assert.deepEqual(
      selectPrunable(list, 'elexisdb', 2, flagged).map((x) => x.stamp),
      ['2026-11-17-0315', '2026-11-16-0315'],
    );
  });

  it('prunes a flagged archive once it is older than every kept generation', () => {
    const old = new Set(['2026-11-16-0315']);
    assert.deepEqual(
      selectPrunable(list, 'elexisdb', 2, (x) => old.has(x.stamp)).map((x) => x.stamp),
      ['2026-11-18-0315', '2026-11-17-0315', '2026-11-16-0315'],
    );
  });

  it('an archive whose verification failed is no generation: keep=2 after two good and one bad keeps both good ones', () => {
    const listed = list.slice(2).map((x) => ({ ...x, sizeDrop: null, verified: x.stamp === '2026-11-20-0315' ? { ok: false } : { ok: true } }));
    assert.deepEqual(selectPrunable(listed, 'elexisdb', 2, notAGeneration), []);
    assert.equal(notAGeneration({ sizeDrop: null, verified: null }), false, 'not verified yet (or by an earlier version) still counts');
    assert.equal(notAGeneration({ sizeDrop: { from: 1, to: 0 }, verified: { ok: true } }), true);
  });

  it('keeps everything when there are fewer than `keep` unflagged archives', () => {
    assert.deepEqual(selectPrunable(list, 'elexisdb', 5, flagged), []);
  });

  const drops: [number, number, number, boolean][] = [
    [1000, 400, 0.5, true],
    [1000, 500, 0.5, false],
    [1000, 999, 0.5, false],
    [1000, 10, 0, false],
    [0, 10, 0.5, false],
    [1000, 850, 0.1, true],
  ];
  for (const [prev, cur, t, expected] of drops) {
    it(`isSizeDrop(${prev} → ${cur}, ${t}) = ${expected}`, () => assert.equal(isSizeDrop(prev, cur, t), expected));
  }
});

describe('remoteSizeDrops', () => {
  const copy = (stamp: string, size: number, incremental = false) => ({
    volume: 'pacs', stamp, kind: 'volume' as const, incremental, size, file: `pacs_${stamp}.${incremental ? 'inc.' : ''}tar.gz`,
  });
  const files = (s: Set<string>) => [...s].sort();

  it('flags fulls smaller than the previous counted full, and the incrementals that continue them', () => {
    const copies = [
      copy('2026-11-01-0315', 1000),
      copy('2026-11-02-0315', 50, true), // small, but an incremental: what changed
      copy('2026-11-03-0315', 900),
      copy('2026-11-04-0315', 100), // wiped
      copy('2026-11-05-0315', 10, true), // continues the wiped full
      copy('2026-11-06-0315', 400), // still a drop against 900, not against the wiped 100
      copy('2026-11-07-0315', 800), // back: counted
    ];
    assert.deepEqual(files(remoteSizeDrops(copies, 0.5, new Set())), ['pacs_2026-11-04-0315.tar.gz', 'pacs_2026-11-05-0315.inc.tar.gz', 'pacs_2026-11-06-0315.tar.gz']);
  });

  it('takes what the local listing flagged, also with the size comparison off', () => {
    const copies = [copy('2026-11-01-0315', 1000), copy('2026-11-02-0315', 999, true), copy('2026-11-03-0315', 5)];
    assert.deepEqual(files(remoteSizeDrops(copies, 0, new Set(['pacs_2026-11-02-0315.inc.tar.gz']))), ['pacs_2026-11-02-0315.inc.tar.gz']);
    assert.deepEqual(files(remoteSizeDrops(copies, 0, new Set())), []);
  });
});

describe('safety backups are no generation', () => {
  const arch = (stamp: string, safetyFor: string | null = null) => ({ ...a(`pacs_${stamp}.tar.gz`), sizeDrop: null, verified: { ok: true }, safetyFor });

  it("three restores tried after ransomware make three safety backups; with keep 3 the next prune keeps the three good sets", () => {
    const archives = [
      arch('2026-11-20-0315'), arch('2026-11-21-0315'), arch('2026-11-22-0315'), arch('2026-11-23-0315'),
      arch('2026-11-23-1001', 'r1'), arch('2026-11-23-1012', 'r2'), arch('2026-11-23-1025', 'r3'),
      arch('2026-11-24-0315'),
    ];
    const doomed = selectPrunable(archives, 'pacs', 3, notAGeneration).map((x) => x.stamp);
    // The good ones beyond keep go, as ever; the safety backups stay while newer than the oldest kept set.
    assert.deepEqual(doomed.sort(), ['2026-11-20-0315', '2026-11-21-0315']);
  });

  it('go once older than every kept generation (keep mode and, through safetyBackupsPast, GFS)', () => {
    const archives = [arch('2026-11-01-1000', 'r0'), arch('2026-11-02-0315'), arch('2026-11-03-0315'), arch('2026-11-04-0315')];
    assert.deepEqual(selectPrunable(archives, 'pacs', 2, notAGeneration).map((x) => x.stamp).sort(), ['2026-11-01-1000', '2026-11-02-0315']);
    const kept = archives.slice(2);
    assert.deepEqual(safetyBackupsPast(archives, kept).map((x) => x.stamp), ['2026-11-01-1000']);
    assert.deepEqual(safetyBackupsPast(archives, []), [], 'nothing kept: no reference, nothing goes');
    assert.equal(notAGeneration({ sizeDrop: null, verified: { ok: true }, safetyFor: 'r0' }), true);
    assert.equal(notAGeneration({ sizeDrop: null, verified: { ok: true }, safetyFor: null }), false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { remoteSizeDrops } from '../../src/core/retention.js';
import { remoteDoomed } from '../../src/engine/offsite/remote-retention.js';

const copy = (stamp: string, size: number) => ({ volume: 'pacs', stamp, kind: 'volume' as const, incremental: false, size, file: `pacs_${stamp}.tar.gz` });

describe('remote retention of size-drop copies', () => {
  // Good for three nights, wiped for two, restored and good for four: keep 3.
  const mine = [
    copy('2026-11-01-0315', 1000), copy('2026-11-02-0315', 1000), copy('2026-11-03-0315', 1000),
    copy('2026-11-04-0315', 10), copy('2026-11-05-0315', 10),
    copy('2026-11-06-0315', 1000), copy('2026-11-07-0315', 1000), copy('2026-11-08-0315', 1000), copy('2026-11-09-0315', 1000),
  ];
  const drops = remoteSizeDrops(mine, 0.5, new Set());

  it('keeps the drops while recent, as BACKUP_DIR does, and removes them once keep good copies followed', () => {
    assert.deepEqual(drops.size, 2);
    const doomed = remoteDoomed(mine, 'pacs', { kind: 'keep', keep: 3 }, drops).map((a) => a.stamp).sort();
    assert.deepEqual(doomed, ['2026-11-01-0315', '2026-11-02-0315', '2026-11-03-0315', '2026-11-04-0315', '2026-11-05-0315', '2026-11-06-0315']);
  });

  it('a drop newer than the oldest good copy kept stays, and no good copy is pushed out by it', () => {
    const early = mine.slice(0, 5);
    assert.deepEqual(remoteDoomed(early, 'pacs', { kind: 'keep', keep: 3 }, remoteSizeDrops(early, 0.5, new Set())), []);
    assert.deepEqual(remoteDoomed(early, 'pacs', { kind: 'keep', keep: 2 }, remoteSizeDrops(early, 0.5, new Set())).map((a) => a.stamp), ['2026-11-01-0315']);
  });

  it('GFS: drops wait for a person, as LOCAL_RETENTION=gfs', () => {
    const doomed = remoteDoomed(mine, 'pacs', { kind: 'gfs', daily: 2, weekly: 0, monthly: 0 }, drops).map((a) => a.stamp);
    assert.ok(!doomed.includes('2026-11-04-0315') && !doomed.includes('2026-11-05-0315'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCopyRebuild, type LocalArchiveFacts } from '../../src/core/copy-rebuild.js';
import { parseArchiveName } from '../../src/core/names.js';
import { isDirectoryNotFound } from '../../src/engine/offsite/remote-listing.js';

const ok = { ok: true };
function local(file: string, o: Partial<LocalArchiveFacts> = {}): LocalArchiveFacts {
  return { ...parseArchiveName(file)!, verified: ok, safetyFor: null, ...o };
}
const remote = (...files: string[]) => files.map((f) => parseArchiveName(f)!);

describe('planCopyRebuild (after Redis lost the copy records)', () => {
  const a1 = 'pacs_2030-06-01-0315.tar.gz';
  const a2 = 'pacs_2030-06-02-0315.tar.gz';
  const a3 = 'pacs_2030-06-03-0315.tar.gz';
  const a4 = 'pacs_2030-06-04-0315.tar.gz';

  it('finds what the target holds, copies what is newer than its newest copy of the volume, leaves older ones', () => {
    // a1: removed by the target's retention (or never meant for it); a2, a3 there; a4 lost in flight.
    const plan = planCopyRebuild([a4, a1, a3, a2].map((f) => local(f)), remote(a2, a3), new Set());
    assert.deepEqual(plan, { find: [a2, a3], copy: [a4] });
  });

  it('skips archives with a record for the target', () => {
    assert.deepEqual(planCopyRebuild([local(a2), local(a3)], remote(a2), new Set([a2, a3])), { find: [], copy: [] });
  });

  it('copies nothing of a volume the target holds no copy of (a target added later: nothing says what was meant for it)', () => {
    assert.deepEqual(planCopyRebuild([local(a1), local('db_2030-06-04-0315.sql.gz')], remote(a1), new Set()), { find: [a1], copy: [] });
  });

  it('never copies a safety backup, an unverified archive or one that failed its verification', () => {
    const plan = planCopyRebuild([local(a1), local(a2, { safetyFor: 'x' }), local(a3, { verified: null }), local(a4, { verified: { ok: false } })], remote(a1), new Set());
    assert.deepEqual(plan, { find: [a1], copy: [] });
  });

  it('counts per volume: another volume\'s newer copy does not make an older archive of this one newer', () => {
    const plan = planCopyRebuild([local(a2), local('lucinda_2030-06-01-0315.tar.gz')], remote(a1, 'lucinda_2030-06-03-0315.tar.gz'), new Set());
    assert.deepEqual(plan, { find: [], copy: [a2] });
  });

  it('copies an archive between the target\'s copies that its retention keeps: its copy failed, or was still retrying when the queue was lost', () => {
    // a2's copy waited hours for its retry while a3's got through; a1 on the target proves a2 was not removed there.
    for (const retention of [undefined, { kind: 'never' as const }, { kind: 'keep' as const, keep: 3 }, { kind: 'gfs' as const, daily: 7, weekly: 0, monthly: 0 }]) {
      const plan = planCopyRebuild([a1, a2, a3].map((f) => local(f)), remote(a1, a3), new Set(), retention);
      assert.deepEqual(plan, { find: [a1, a3], copy: [a2] }, JSON.stringify(retention));
    }
  });

  it('with keep:N, copies one newer than a copy still there even where the target holds more than N (its deletes refused): keep removes the oldest first', () => {
    const plan = planCopyRebuild([a1, a2, a3, a4].map((f) => local(f)), remote(a1, a3, a4), new Set(), { kind: 'keep', keep: 2 });
    assert.deepEqual(plan, { find: [a1, a3, a4], copy: [a2] });
  });

  it('leaves an archive between the target\'s copies that its retention removes (GFS: not its day\'s newest)', () => {
    const noon = 'pacs_2030-06-02-1200.tar.gz';
    const late = 'pacs_2030-06-02-2315.tar.gz';
    const plan = planCopyRebuild([a1, noon, late].map((f) => local(f)), remote(a1, late), new Set(), { kind: 'gfs', daily: 7, weekly: 0, monthly: 0 });
    assert.deepEqual(plan, { find: [a1, late], copy: [] });
  });

  it("copies one whose day's later copy there is a size drop: the target's GFS does not count drops, so it keeps this one (found by an audit)", () => {
    const wiped = 'pacs_2030-06-02-2315.tar.gz';
    const gfs = { kind: 'gfs', daily: 7, weekly: 0, monthly: 0 } as const;
    // The size drop as the target's rule flags it (drops), or as flagged here (sizeDrop).
    assert.deepEqual(planCopyRebuild([a1, a2, wiped].map((f) => local(f)), remote(a1, wiped), new Set(), gfs, new Set([wiped])), { find: [a1, wiped], copy: [a2] });
    assert.deepEqual(planCopyRebuild([local(a1), local(a2), local(wiped, { sizeDrop: { previous: 9, current: 1 } })], remote(a1, wiped), new Set(), gfs, new Set([wiped])), { find: [a1, wiped], copy: [a2] });
    // Without the drop, the later copy is the day's newest and the target's GFS removed a2.
    assert.deepEqual(planCopyRebuild([a1, a2, wiped].map((f) => local(f)), remote(a1, wiped), new Set(), gfs), { find: [a1, wiped], copy: [] });
  });
});

describe('isDirectoryNotFound', () => {
  it('is rclone\'s exit code 3 with its message, nothing else', () => {
    assert.equal(isDirectoryNotFound(new Error('listing of x:oob: rclone exited with 3: Failed to lsjson: error in ListJSON: directory not found')), true);
    assert.equal(isDirectoryNotFound(new Error('listing of x:oob: rclone exited with 1: couldn\'t connect')), false);
    assert.equal(isDirectoryNotFound(new Error('listing of x:oob: rclone exited with 30: directory not found')), false);
  });
});

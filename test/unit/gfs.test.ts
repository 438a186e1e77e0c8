/** Retention by policy over dates: keep N, grandfather-father-son, never. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoWeekOf, selectByPolicy } from '../../src/core/gfs.js';

/** One archive a day at 03:15 from `first` for `days` days. */
function daily(first: string, days: number) {
  const out: { stamp: string }[] = [];
  const d = new Date(`${first}T00:00:00Z`);
  for (let i = 0; i < days; i++) {
    out.push({ stamp: `${d.toISOString().slice(0, 10)}-0315` });
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}
const kept = (all: { stamp: string }[], removed: { stamp: string }[]) => all.filter((a) => !removed.includes(a)).map((a) => a.stamp).sort();

describe('ISO weeks', () => {
  for (const [stamp, week] of [
    ['2026-01-01-0315', '2026-W01'], // a Thursday
    ['2027-01-01-0315', '2026-W53'], // a Friday: still the last week of 2026
    ['2024-12-30-0315', '2025-W01'], // a Monday whose Thursday is in 2025
    ['2026-11-29-2359', '2026-W48'], // a Sunday ends its week
    ['2026-11-30-0000', '2026-W49'], // Monday starts the next
  ] as const) {
    it(`${stamp} is in ${week}`, () => assert.equal(isoWeekOf(stamp), week));
  }
});

describe('selectByPolicy', () => {
  it('never removes nothing', () => assert.deepEqual(selectByPolicy(daily('2026-01-01', 400), { kind: 'never' }), []));

  it('keep:N keeps the N newest', () => {
    const all = daily('2026-11-01', 10);
    assert.deepEqual(kept(all, selectByPolicy(all, { kind: 'keep', keep: 3 })), ['2026-11-08-0315', '2026-11-09-0315', '2026-11-10-0315']);
  });

  it('gfs:7/4/12 over 400 daily archives keeps 7 days, the newest of 4 weeks and of 12 months', () => {
    const all = daily('2025-10-28', 400); // up to 2026-12-01 (a Tuesday)
    const left = kept(all, selectByPolicy(all, { kind: 'gfs', daily: 7, weekly: 4, monthly: 12 }));
    assert.deepEqual(left, [
      // monthly: the newest of each month back to 2026-01 (the 12 newest months with archives; 2025-12 is the 13th)
      '2026-01-31-0315', '2026-02-28-0315', '2026-03-31-0315', '2026-04-30-0315', '2026-05-31-0315', '2026-06-30-0315',
      '2026-07-31-0315', '2026-08-31-0315', '2026-09-30-0315', '2026-10-31-0315',
      // weekly: the Sundays ending W46, W47, W48, and this week's newest (2026-12-01, also daily and monthly)
      '2026-11-15-0315', '2026-11-22-0315',
      // daily: the 7 newest days (11-29 is also W48's Sunday, 11-30 also November's newest)
      '2026-11-25-0315', '2026-11-26-0315', '2026-11-27-0315', '2026-11-28-0315', '2026-11-29-0315', '2026-11-30-0315', '2026-12-01-0315',
    ]);
  });

  it('gfs counts only periods that have archives (a gap of months does not use up the count)', () => {
    const all = [{ stamp: '2024-03-05-0315' }, { stamp: '2025-07-01-0315' }, { stamp: '2026-11-30-0315' }, { stamp: '2026-11-30-1200' }];
    assert.deepEqual(kept(all, selectByPolicy(all, { kind: 'gfs', daily: 0, weekly: 0, monthly: 3 })), ['2024-03-05-0315', '2025-07-01-0315', '2026-11-30-1200']);
  });

  it('always keeps the newest, and never touches an unparsable stamp', () => {
    const all = [{ stamp: '2026-11-30-0315' }, { stamp: 'garbage' }];
    assert.deepEqual(selectByPolicy(all, { kind: 'gfs', daily: 0, weekly: 0, monthly: 1 }), []);
  });

  it('several archives a day: gfs keeps the newest of the day, keep:N counts each', () => {
    const all = [{ stamp: '2026-11-30-0315' }, { stamp: '2026-11-30-1215' }, { stamp: '2026-11-29-0315' }];
    assert.deepEqual(kept(all, selectByPolicy(all, { kind: 'gfs', daily: 2, weekly: 0, monthly: 0 })), ['2026-11-29-0315', '2026-11-30-1215']);
    assert.deepEqual(kept(all, selectByPolicy(all, { kind: 'keep', keep: 2 })), ['2026-11-30-0315', '2026-11-30-1215']);
  });
});

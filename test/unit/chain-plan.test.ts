import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextLevel } from '../../src/core/chain-plan.js';
import { stampWeekday } from '../../src/core/names.js';

describe('nextLevel (issue 16)', () => {
  const full = 'pacsdata_2026-11-30-0315.tar.gz'; // a Monday
  const cases: [string, number, string, { fullEvery: number; fullOn: number | null }, number][] = [
    ['continues the chain', 0, '2026-12-01-0315', { fullEvery: 7, fullOn: null }, 1],
    ['continues up to fullEvery archives', 5, '2026-12-06-0315', { fullEvery: 7, fullOn: null }, 6],
    ['a new full once the chain holds fullEvery archives', 6, '2026-12-07-0315', { fullEvery: 7, fullOn: null }, 0],
    ['fullEvery 1: every run a full', 0, '2026-12-01-0315', { fullEvery: 1, fullOn: null }, 0],
    ['a new full on the fullOn weekday (Sunday)', 5, '2026-12-06-0315', { fullEvery: 30, fullOn: 0 }, 0],
    ['not on another weekday', 1, '2026-12-02-0315', { fullEvery: 30, fullOn: 0 }, 2],
    ['not twice on the fullOn day (the full is from today)', 0, '2026-11-30-2215', { fullEvery: 30, fullOn: 1 }, 1],
  ];
  for (const [what, level, stamp, policy, expected] of cases) {
    it(what, () => {
      const r = nextLevel({ level, full }, stamp, policy);
      assert.equal(r.level, expected);
      assert.equal(r.why === undefined, expected !== 0);
    });
  }

  it('counts weekdays like cron', () => {
    assert.deepEqual(['2026-11-29-0315', '2026-11-30-0315', '2026-12-05-2359'].map(stampWeekday), [0, 1, 6]);
  });
});

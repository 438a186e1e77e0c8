/**
 * Run times of a crontab pattern (src/core/cron.ts): next runs, the previous run, DST in
 * Europe/Zurich, time zones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTimeZone, nextRuns, previousRun, toCronPattern } from '../../src/core/cron.js';

const ZURICH = 'Europe/Zurich';

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString());

/** Wall-clock time in Zurich, "YYYY-MM-DD HH:mm", to check what the admin sees on the server. */
const zurichFormat = new Intl.DateTimeFormat('sv-SE', {
  timeZone: ZURICH,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const zurichLocal = (d: Date): string => zurichFormat.format(d);

function assertStrictlyIncreasing(dates: Date[]): void {
  for (let i = 1; i < dates.length; i++) {
    assert.ok(dates[i - 1]!.getTime() < dates[i]!.getTime(), `not increasing at ${i}: ${iso(dates).join(', ')}`);
  }
}

describe('toCronPattern', () => {
  test('Monday to Friday at 03:15', () => {
    assert.equal(toCronPattern({ minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5' }), '15 3 * * 1-5');
  });
});

describe('nextRuns', () => {
  test('weekdays at 03:15 from a Friday in winter: next Monday..Friday, 03:15 CET = 02:15Z', () => {
    const runs = nextRuns('15 3 * * 1-5', ZURICH, new Date('2026-01-09T12:00:00Z'), 5);
    assert.deepEqual(iso(runs), [
      '2026-01-12T02:15:00.000Z',
      '2026-01-13T02:15:00.000Z',
      '2026-01-14T02:15:00.000Z',
      '2026-01-15T02:15:00.000Z',
      '2026-01-16T02:15:00.000Z',
    ]);
  });

  test('weekdays at 03:15 from a Friday in summer: 03:15 CEST = 01:15Z', () => {
    const runs = nextRuns('15 3 * * 1-5', ZURICH, new Date('2026-07-10T12:00:00Z'), 5);
    assert.deepEqual(iso(runs), [
      '2026-07-13T01:15:00.000Z',
      '2026-07-14T01:15:00.000Z',
      '2026-07-15T01:15:00.000Z',
      '2026-07-16T01:15:00.000Z',
      '2026-07-17T01:15:00.000Z',
    ]);
  });

  test('runs are strictly after `from`, even when `from` is itself a fire time', () => {
    const runs = nextRuns('15 3 * * *', ZURICH, new Date('2026-11-21T02:15:00Z'), 1);
    assert.deepEqual(iso(runs), ['2026-11-22T02:15:00.000Z']);
  });

  test('day and weekday both restricted: fires when EITHER matches (the 13th or a Friday)', () => {
    const runs = nextRuns('0 12 13 * 5', ZURICH, new Date('2026-01-01T00:00:00Z'), 5);
    assert.deepEqual(iso(runs), [
      '2026-01-02T11:00:00.000Z', // Friday
      '2026-01-09T11:00:00.000Z', // Friday
      '2026-01-13T11:00:00.000Z', // Tuesday the 13th
      '2026-01-16T11:00:00.000Z', // Friday
      '2026-01-23T11:00:00.000Z', // Friday
    ]);
  });

  test('weekday 0 and 7 are both Sunday', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    const sunday0 = iso(nextRuns('0 12 * * 0', ZURICH, from, 3));
    assert.deepEqual(iso(nextRuns('0 12 * * 7', ZURICH, from, 3)), sunday0);
    assert.equal(sunday0[0], '2026-01-04T11:00:00.000Z');
  });

  test('count 0 gives nothing, a pattern that never fires gives nothing', () => {
    assert.deepEqual(nextRuns('15 3 * * *', ZURICH, new Date('2026-01-01T00:00:00Z'), 0), []);
    assert.deepEqual(nextRuns('0 0 31 4 *', ZURICH, new Date('2026-01-01T00:00:00Z'), 3), []);
    assert.deepEqual(nextRuns('0 0 30 2 *', ZURICH, new Date('2026-01-01T00:00:00Z'), 3), []);
  });

  const badCalls: Array<[string, () => unknown]> = [
    ['unknown time zone', () => nextRuns('15 3 * * *', 'Mars/Base', new Date(), 1)],
    ['six fields', () => nextRuns('0 15 3 * * *', ZURICH, new Date(), 1)],
    ['a name', () => nextRuns('15 3 * * mon', ZURICH, new Date(), 1)],
    ['an invalid date', () => nextRuns('15 3 * * *', ZURICH, new Date('nope'), 1)],
    ['a negative count', () => nextRuns('15 3 * * *', ZURICH, new Date(), -1)],
  ];
  for (const [name, call] of badCalls) {
    test(`throws for ${name}`, () => {
      assert.throws(call);
    });
  }
});

/*
 * DST in Europe/Zurich, as observed with cron-parser 5.10.3:
 * - Spring forward, 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that night. cron-parser
 *   does not skip the day; it fires once at 03:30 CEST (01:30Z), i.e. shifted by the lost hour.
 * - Fall back, 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice. Going forward, cron-parser
 *   fires once, at the first (CEST) occurrence, 00:30Z; the CET one (01:30Z) is not repeated.
 *   Going backwards (previousRun) it does report both; see the previousRun tests.
 * - A time outside the changed hour (03:15) stays at 03:15 local across both changes.
 */
describe('nextRuns across DST in Europe/Zurich', () => {
  test('spring forward: 02:30 on 2026-03-29 is shifted to 03:30 CEST, once, runs increasing', () => {
    const runs = nextRuns('30 2 * * *', ZURICH, new Date('2026-03-27T12:00:00Z'), 4);
    assert.deepEqual(iso(runs), [
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST: 02:30 does not exist that night
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    assert.equal(zurichLocal(runs[1]!), '2026-03-29 03:30');
    assertStrictlyIncreasing(runs);
  });

  test('fall back: 02:30 on 2026-10-25 fires once (first, CEST occurrence), runs increasing', () => {
    const runs = nextRuns('30 2 * * *', ZURICH, new Date('2026-10-23T12:00:00Z'), 4);
    assert.deepEqual(iso(runs), [
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two 02:30s
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
    assert.equal(runs.filter((d) => zurichLocal(d).startsWith('2026-10-25')).length, 1);
    assertStrictlyIncreasing(runs);
  });

  test('BullMQ chains next() from the run it just fired: the repeated 02:30 is still not fired again', () => {
    // BullMQ computes the following run from about the time the job ran, so starting just after the
    // first 02:30 must jump to the next day, not to the CET 02:30 an hour later.
    const runs = nextRuns('30 2 * * *', ZURICH, new Date('2026-10-25T00:30:05Z'), 1);
    assert.deepEqual(iso(runs), ['2026-10-26T01:30:00.000Z']);
  });

  test('spring forward, every 30 minutes of 02:xx: 03:00 CEST only that day, as BullMQ fires it (each next run from the last)', () => {
    // One iterator stepped on showed 03:30 too, which BullMQ never fires (found by an audit).
    const runs = nextRuns('*/30 2 * * *', ZURICH, new Date('2027-03-27T12:00:00Z'), 3);
    assert.deepEqual(iso(runs), ['2027-03-28T01:00:00.000Z', '2027-03-29T00:00:00.000Z', '2027-03-29T00:30:00.000Z']);
  });

  test('fall back: daily 03:15 stays 03:15 local (01:15Z CEST, then 02:15Z CET)', () => {
    const runs = nextRuns('15 3 * * *', ZURICH, new Date('2026-10-23T12:00:00Z'), 3);
    assert.deepEqual(iso(runs), ['2026-10-24T01:15:00.000Z', '2026-10-25T02:15:00.000Z', '2026-10-26T02:15:00.000Z']);
    assert.deepEqual(runs.map(zurichLocal), ['2026-10-24 03:15', '2026-10-25 03:15', '2026-10-26 03:15']);
  });

  test('spring forward: daily 03:15 stays 03:15 local (02:15Z CET, then 01:15Z CEST)', () => {
    const runs = nextRuns('15 3 * * *', ZURICH, new Date('2026-03-27T12:00:00Z'), 3);
    assert.deepEqual(iso(runs), ['2026-03-28T02:15:00.000Z', '2026-03-29T01:15:00.000Z', '2026-03-30T01:15:00.000Z']);
  });

  test('every 30 minutes through the fall-back night: 30 minutes apart in real time, no repeats', () => {
    const runs = nextRuns('*/30 * * * *', ZURICH, new Date('2026-10-24T23:45:00Z'), 8);
    assertStrictlyIncreasing(runs);
    for (let i = 1; i < runs.length; i++) assert.equal(runs[i]!.getTime() - runs[i - 1]!.getTime(), 30 * 60_000);
  });
});

describe('previousRun', () => {
  test('daily 03:15 Zurich before 2026-11-21T12:00Z is 2026-11-21T02:15Z', () => {
    assert.equal(previousRun('15 3 * * *', ZURICH, new Date('2026-11-21T12:00:00Z'))?.toISOString(), '2026-11-21T02:15:00.000Z');
  });

  test('strictly before: a fire time equal to `before` is not returned', () => {
    assert.equal(previousRun('15 3 * * *', ZURICH, new Date('2026-11-21T02:15:00Z'))?.toISOString(), '2026-11-20T02:15:00.000Z');
  });

  test('undefined when the pattern never fires', () => {
    assert.equal(previousRun('0 0 31 4 *', ZURICH, new Date('2026-11-21T12:00:00Z')), undefined);
    assert.equal(previousRun('0 0 30 2 *', ZURICH, new Date('2026-11-21T12:00:00Z')), undefined);
  });

  test('fall back: the 02:30 that ran (CEST), not the CET pass at which nothing ran', () => {
    // cron-parser's backward iteration reports the CET 02:30 (01:30Z) too; previousRun follows the
    // runs forward as BullMQ fires them.
    assert.equal(previousRun('30 2 * * *', ZURICH, new Date('2026-10-25T02:00:00Z'))?.toISOString(), '2026-10-25T00:30:00.000Z');
    assert.equal(previousRun('30 2 * * *', ZURICH, new Date('2026-10-25T01:00:00Z'))?.toISOString(), '2026-10-25T00:30:00.000Z');
  });

  test('spring forward: the 02:30 shifted to 03:30 CEST is the previous run that day (overdue and catch-up count it)', () => {
    // An audit found cron-parser's backward iteration skipping it: a missed run that night was not overdue.
    assert.equal(previousRun('30 2 * * *', ZURICH, new Date('2027-03-28T06:00:00Z'))?.toISOString(), '2027-03-28T01:30:00.000Z');
    assert.equal(previousRun('30 2 * * *', ZURICH, new Date('2027-03-28T01:00:00Z'))?.toISOString(), '2027-03-27T01:30:00.000Z');
    assert.equal(previousRun('*/30 2 * * *', ZURICH, new Date('2027-03-28T06:00:00Z'))?.toISOString(), '2027-03-28T01:00:00.000Z');
  });

  test('throws for an unknown time zone', () => {
    assert.throws(() => previousRun('15 3 * * *', 'Mars/Base', new Date()), RangeError);
  });
});

describe('isValidTimeZone', () => {
  const cases: Array<[string, boolean]> = [
    ['Europe/Zurich', true],
    ['UTC', true],
    ['Mars/Base', false],
    ['', false],
  ];
  for (const [tz, expected] of cases) {
    test(`${JSON.stringify(tz)} -> ${expected}`, () => {
      assert.equal(isValidTimeZone(tz), expected);
    });
  }
});

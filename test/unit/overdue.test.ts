import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { overdueVolumes, type OverdueInput } from '../../src/core/overdue.js';

// January 2026, Zurich is UTC+1: 03:15 local = 02:15Z. Thu 8, Fri 9, Sat 10, Sun 11, Mon 12.
const WEEKDAYS = '15 3 * * 1-5';
const ZURICH = 'Europe/Zurich';
const HOUR = 3600_000;
const d = (iso: string) => new Date(iso);

const THU_FIRE = '2026-01-08T02:15:00.000Z';
const FRI_FIRE = '2026-01-09T02:15:00.000Z';
const MON_FIRE = '2026-01-12T02:15:00.000Z';

interface Row {
  name: string;
  now: string;
  last: string | undefined;
  graceMs?: number;
  timezone?: string;
  /** When the schedule took effect. */
  since?: string;
  /** expectedBy when overdue, null when not. */
  overdue: string | null;
}

const TABLE: Row[] = [
  { name: 'Saturday after a good Friday', now: '2026-01-10T12:00:00Z', last: '2026-01-09T02:40:00Z', overdue: null },
  { name: 'Sunday night after a good Friday (no weekend runs)', now: '2026-01-11T23:00:00Z', last: '2026-01-09T02:40:00Z', overdue: null },
  { name: 'Monday, fire time passed but still within the grace', now: '2026-01-12T03:00:00Z', last: '2026-01-09T02:40:00Z', overdue: null },
  { name: 'Monday, grace over, no Monday archive', now: '2026-01-12T03:30:00Z', last: '2026-01-09T02:40:00Z', overdue: MON_FIRE },
  { name: 'Monday, grace over, Monday archive there', now: '2026-01-12T03:30:00Z', last: '2026-01-12T02:50:00Z', overdue: null },
  { name: 'Friday failed: overdue on Saturday', now: '2026-01-10T12:00:00Z', last: '2026-01-08T02:40:00Z', overdue: FRI_FIRE },
  { name: 'Friday failed: still overdue all weekend', now: '2026-01-11T23:59:00Z', last: '2026-01-08T02:40:00Z', overdue: FRI_FIRE },
  { name: 'Friday failed, Monday succeeded: fine again', now: '2026-01-12T06:00:00Z', last: '2026-01-12T02:40:00Z', overdue: null },
  { name: 'never succeeded, a fire time has passed', now: '2026-01-10T12:00:00Z', last: undefined, overdue: FRI_FIRE },
  { name: "never succeeded, inside Friday's grace: Thursday's fire counts", now: '2026-01-09T02:45:00Z', last: undefined, overdue: THU_FIRE },
  { name: 'run in progress: grace keeps Friday out', now: '2026-01-09T02:45:00Z', last: '2026-01-08T02:40:00Z', overdue: null },
  { name: 'same, grace 0: Friday counts at once', now: '2026-01-09T02:45:00Z', last: '2026-01-08T02:40:00Z', graceMs: 0, overdue: FRI_FIRE },
  { name: 'success exactly at the fire time is not overdue', now: '2026-01-09T12:00:00Z', last: FRI_FIRE, overdue: null },
  { name: 'success one ms before the fire time is', now: '2026-01-09T12:00:00Z', last: '2026-01-09T02:14:59.999Z', overdue: FRI_FIRE },
  { name: 'long grace reaches back over the weekend', now: '2026-01-12T12:00:00Z', last: '2026-01-09T02:40:00Z', graceMs: 48 * HOUR, overdue: null },
  { name: 'long grace, Friday missing', now: '2026-01-12T12:00:00Z', last: '2026-01-08T02:40:00Z', graceMs: 48 * HOUR, overdue: FRI_FIRE },
  // The same instants read in UTC: Monday's 03:15Z fire is still inside the grace at 03:30Z.
  // A fresh install (or a schedule saved) on Friday at 10:00: Friday's 03:15 was never its tick.
  { name: 'never succeeded, but the schedule began after the last fire time', now: '2026-01-09T10:00:00Z', last: undefined, since: '2026-01-09T09:00:00Z', overdue: null },
  { name: 'the first fire time after the start counts', now: '2026-01-12T03:30:00Z', last: undefined, since: '2026-01-09T09:00:00Z', overdue: MON_FIRE },
  { name: 'a fire time exactly at the start counts', now: '2026-01-09T12:00:00Z', last: undefined, since: FRI_FIRE, overdue: FRI_FIRE },
  { name: 'time zone of the schedule counts', now: '2026-01-12T03:30:00Z', last: '2026-01-09T03:40:00Z', timezone: 'UTC', overdue: null },
];

describe('overdueVolumes', () => {
  for (const row of TABLE) {
    test(row.name, () => {
      const input: OverdueInput = {
        pattern: WEEKDAYS,
        timezone: row.timezone ?? ZURICH,
        now: d(row.now),
        lastSuccessByVolume: { elexisdb: row.last === undefined ? undefined : d(row.last) },
        graceMs: row.graceMs ?? HOUR,
        ...(row.since ? { since: d(row.since) } : {}),
      };
      const result = overdueVolumes(input);
      if (row.overdue === null) {
        assert.deepEqual(result, []);
      } else {
        assert.deepEqual(result, [{ volume: 'elexisdb', lastSuccess: row.last === undefined ? null : d(row.last), expectedBy: d(row.overdue) }]);
      }
    });
  }

  test('several volumes: only the late ones, by name, never-succeeded included', () => {
    const result = overdueVolumes({
      pattern: WEEKDAYS,
      timezone: ZURICH,
      now: d('2026-01-10T12:00:00Z'),
      lastSuccessByVolume: {
        webelexis: d('2026-01-08T02:30:00Z'),
        elexisdb: d('2026-01-09T02:30:00Z'),
        pacsdata: undefined,
        lucinda: d('2026-01-09T02:20:00Z'),
      },
      graceMs: HOUR,
    });
    assert.deepEqual(
      result.map((r) => [r.volume, r.lastSuccess?.toISOString() ?? null, r.expectedBy.toISOString()]),
      [
        ['pacsdata', null, FRI_FIRE],
        ['webelexis', '2026-01-08T02:30:00.000Z', FRI_FIRE],
      ],
    );
  });

  test('no volumes, nothing overdue', () => {
    assert.deepEqual(overdueVolumes({ pattern: WEEKDAYS, timezone: ZURICH, now: d('2026-01-10T12:00:00Z'), lastSuccessByVolume: {}, graceMs: HOUR }), []);
  });

  test('a negative grace is refused', () => {
    assert.throws(
      () => overdueVolumes({ pattern: WEEKDAYS, timezone: ZURICH, now: new Date(), lastSuccessByVolume: {}, graceMs: -1 }),
      /graceMs/,
    );
  });

  test('a malformed pattern is refused, not treated as never firing', () => {
    assert.throws(() => overdueVolumes({ pattern: '15 3 * *', timezone: ZURICH, now: new Date(), lastSuccessByVolume: {}, graceMs: HOUR }), /5 fields/);
  });
});

/**
 * The five crontab fields one by one (src/core/cron-fields.ts): what each accepts, and that a
 * refusal names the field and its range.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRuns, toCronPattern } from '../../src/core/cron.js';
import { FIELD_RANGES, validateField, type CronFields, type FieldName } from '../../src/core/cron-fields.js';

const ZURICH = 'Europe/Zurich';

/** Every field `*` except one: enough to feed a single field's value to cron-parser. */
function patternWith(field: FieldName, value: string): string {
  const fields: CronFields = { minute: '*', hour: '*', day: '*', month: '*', weekday: '*' };
  return toCronPattern({ ...fields, [field]: value });
}

describe('validateField: accepted values', () => {
  const cases: Array<[FieldName, unknown, string]> = [
    ['minute', '*', '*'],
    ['minute', '5', '5'],
    ['minute', '1,3,4', '1,3,4'],
    ['minute', '1-5', '1-5'],
    ['minute', '*/10', '*/10'],
    ['minute', '1-10/2', '1-10/2'],
    ['minute', '0,30', '0,30'],
    ['minute', '1-5,10-20/5', '1-5,10-20/5'],
    ['minute', '05', '05'],
    ['minute', '59', '59'],
    ['minute', 15, '15'],
    ['minute', 0, '0'],
    ['hour', '*', '*'],
    ['hour', '3', '3'],
    ['hour', '0,12', '0,12'],
    ['hour', '8-18', '8-18'],
    ['hour', '*/6', '*/6'],
    ['hour', 23, '23'],
    ['day', '*', '*'],
    ['day', '1', '1'],
    ['day', '1,15', '1,15'],
    ['day', '1-7', '1-7'],
    ['day', '*/10', '*/10'],
    ['day', '31', '31'],
    ['day', 1, '1'],
    ['month', '*', '*'],
    ['month', '1-6', '1-6'],
    ['month', '1,4,7,10', '1,4,7,10'],
    ['month', '*/3', '*/3'],
    ['month', 12, '12'],
    ['weekday', '*', '*'],
    ['weekday', '1-5', '1-5'],
    ['weekday', '0', '0'],
    ['weekday', '7', '7'],
    ['weekday', '0,6', '0,6'],
    ['weekday', '*/2', '*/2'],
    ['weekday', 7, '7'],
    ['weekday', 0, '0'],
  ];

  for (const [field, raw, expected] of cases) {
    test(`${field} ${JSON.stringify(raw)}`, () => {
      assert.deepEqual(validateField(field, raw), { ok: true, value: expected });
    });
  }

  // Our validator must never accept something cron-parser (and so BullMQ) cannot run.
  test('every accepted value is also accepted by cron-parser', () => {
    for (const [field, , value] of cases) {
      assert.equal(nextRuns(patternWith(field, value), ZURICH, new Date('2026-01-01T00:00:00Z'), 1).length, 1, `${field} ${value}`);
    }
  });
});

describe('validateField: rejected values name the field and its range', () => {
  const cases: Array<[FieldName, unknown, RegExp?]> = [
    ['minute', '60', /out of range/],
    ['hour', '24', /out of range/],
    ['day', '0', /out of range/],
    ['day', '32', /out of range/],
    ['month', '13', /out of range/],
    ['weekday', '8', /out of range/],
    ['hour', '*/0', /step/],
    ['minute', '5-1', /start is after its end/],
    ['minute', '5/10', /only allowed after \* or a range/],
    ['weekday', 'mon', /names like mon or jan are not supported/],
    ['month', 'jan', /names like mon or jan are not supported/],
    ['day', '?', /not supported/],
    ['day', 'L', /not supported/],
    ['day', '15W', /not supported/],
    ['weekday', '5#3', /not supported/],
    ['minute', '', /empty/],
    ['minute', '   ', /empty/],
    ['minute', '1,,2', /empty list item/],
    ['minute', '1,', /empty list item/],
    ['minute', '1-', /incomplete range/],
    ['minute', '-1', /negative/],
    ['minute', -1, /negative/],
    ['weekday', '1-5 *', /each field takes one expression/],
    ['minute', '1.5', /whole number/],
    ['minute', 1.5, /whole number/],
    ['minute', '*/', /missing the step/],
    ['minute', null, /got null/],
    ['minute', true, /got true/],
    ['minute', {}, /got an object/],
    ['minute', undefined, /missing/],
  ];

  for (const [field, raw, detail] of cases) {
    test(`${field} ${JSON.stringify(raw) ?? 'undefined'}`, () => {
      const result = validateField(field, raw);
      assert.equal(result.ok, false);
      if (result.ok) return;
      const { min, max } = FIELD_RANGES[field];
      assert.equal(result.error.field, field);
      assert.ok(result.error.message.startsWith(`${field}: `), result.error.message);
      assert.ok(result.error.message.includes(`allowed ${min}-${max}`), result.error.message);
      if (detail) assert.match(result.error.message, detail);
    });
  }

  test('the message for an out-of-range value matches the documented form', () => {
    const result = validateField('minute', '60');
    assert.deepEqual(result, {
      ok: false,
      error: { field: 'minute', message: 'minute: "60" is out of range; allowed 0-59 (e.g. *, 5, 1,3,4, 1-5, */10)' },
    });
  });
});


describe('validateField: a list that selects a value twice', () => {
  // cron-parser (and BullMQ with it) refuses such a list ("duplicate values found"): it is refused
  // here, naming the field and the value, not later as "never fires" on another field.
  for (const [field, value, message] of [
    ['minute', '5,5', /"5,5" selects 5 twice/],
    ['minute', '1-5,3', /"1-5,3" selects 3 twice \(in "1-5" and "3"\)/],
    ['minute', '*/15,0', /selects 0 twice/],
    ['weekday', '1-7,0', /selects Sunday \(0 or 7\) twice/],
  ] as const) {
    test(`${field} ${value}`, () => {
      const r = validateField(field, value);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.field, field);
        assert.match(r.error.message, message);
      }
      assert.throws(() => nextRuns(patternWith(field, value), ZURICH, new Date('2030-01-01T00:00:00Z'), 1));
    });
  }
  test('one item over all values (weekday * and 0-7 hold Sunday twice) is no duplicate', () => {
    for (const v of ['*', '0-7', '*/1']) assert.equal(validateField('weekday', v).ok, true, v);
  });
});

describe('storedScheduleProblem: a settings copy read back', () => {
  test('takes a valid schedule and names what is wrong with a damaged one', async () => {
    const { storedScheduleProblem } = await import('../../src/core/schedule-input.js');
    const good = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 12, enabled: true };
    assert.equal(storedScheduleProblem(good, true), undefined);
    assert.equal(storedScheduleProblem({ ...good, keep: undefined }, false), undefined, 'the verify schedule has no keep');
    assert.match(storedScheduleProblem({ ...good, keep: 0 }, true)!, /^keep: 0 is too small/);
    assert.match(storedScheduleProblem({ ...good, minute: '99' }, true)!, /^minute/);
    assert.match(storedScheduleProblem({ ...good, day: '31', month: '4', weekday: '*' }, true)!, /never occurs/);
    assert.match(storedScheduleProblem({ ...good, enabled: 'yes' }, true)!, /^enabled/);
    assert.equal(storedScheduleProblem(null, true), 'not an object');
  });
});

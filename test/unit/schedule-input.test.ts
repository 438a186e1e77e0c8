/**
 * The PUT /api/schedule body (src/core/schedule-input.ts): exactly the five fields and keep, each
 * valid, and a schedule that fires.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScheduleInput } from '../../src/core/schedule-input.js';

const validBody = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 7 };

describe('parseScheduleInput', () => {
  test('accepts the user example and normalises numbers to strings', () => {
    const result = parseScheduleInput({ minute: 15, hour: 3, day: '*', month: '*', weekday: '1-5', keep: 7 });
    assert.deepEqual(result, { ok: true, value: { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 7 } });
  });

  test('keep as a string of digits becomes a number', () => {
    const result = parseScheduleInput({ ...validBody, keep: '10' });
    assert.ok(result.ok);
    assert.equal(result.value.keep, 10);
  });

  test('keep at both limits is accepted', () => {
    assert.ok(parseScheduleInput({ ...validBody, keep: 1 }).ok);
    assert.ok(parseScheduleInput({ ...validBody, keep: 1000 }).ok);
  });

  const badKeep: Array<[string, unknown, RegExp]> = [
    ['0', 0, /too small/],
    ['-1', -1, /too small/],
    ['"0"', '0', /too small/],
    ['"abc"', 'abc', /whole number/],
    ['1.5', 1.5, /whole number/],
    ['"1.5"', '1.5', /whole number/],
    ['null', null, /whole number/],
    ['1001 (cap)', 1001, /maximum of 1000/],
    ['missing', undefined, /missing/],
  ];
  for (const [name, keep, detail] of badKeep) {
    test(`rejects keep ${name}`, () => {
      const body: Record<string, unknown> = { ...validBody, keep };
      if (keep === undefined) delete body.keep;
      const result = parseScheduleInput(body);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.field, 'keep');
      assert.match(result.error.message, /^keep: /);
      assert.match(result.error.message, /allowed 1-1000/);
      assert.match(result.error.message, detail);
    });
  }

  for (const key of ['second', 'year']) {
    test(`rejects the unknown key ${key}`, () => {
      const result = parseScheduleInput({ ...validBody, [key]: '0' });
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.field, key);
      assert.match(result.error.message, /only the five crontab fields \(minute, hour, day, month, weekday\) and keep are accepted/);
    });
  }

  test('a missing crontab field is named', () => {
    const { hour: _omitted, ...body } = validBody;
    const result = parseScheduleInput(body);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.field, 'hour');
    assert.match(result.error.message, /^hour: .*missing.*allowed 0-23/);
  });

  test('an invalid field value is reported with its field', () => {
    const result = parseScheduleInput({ ...validBody, weekday: '8' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.field, 'weekday');
  });

  for (const [name, body] of [['null', null], ['an array', []], ['a string', '15 3 * * 1-5'], ['a number', 42], ['undefined', undefined]] as const) {
    test(`rejects a body that is ${name}`, () => {
      const result = parseScheduleInput(body);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.field, 'body');
    });
  }

  test('rejects a day that never occurs in the chosen months (the schedule would never run)', () => {
    for (const [day, month] of [['31', '4,6'], ['30', '2']]) {
      const result = parseScheduleInput({ ...validBody, day, month, weekday: '*' });
      assert.equal(result.ok, false, `${day} ${month}`);
      if (result.ok) return;
      assert.equal(result.error.field, 'day');
      assert.match(result.error.message, /never run.*allowed 1-31/);
    }
  });

  test('29 February is accepted: it runs in leap years', () => {
    assert.ok(parseScheduleInput({ ...validBody, day: '29', month: '2', weekday: '*' }).ok);
  });
});


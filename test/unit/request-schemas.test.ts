/**
 * The request schemas of the API (src/api/schemas/) through parseRequest, the helper every handler
 * uses: what each accepts and gives back, and for each kind of bad input the 400 `invalid_request`
 * whose `field` names the culprit, with the message the API has always given for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../src/api/http-error.js';
import {
  confirmRestoreBody,
  jobsQuery,
  runBackupBody,
  scheduleBody,
  setRestoreBody,
  sqlRestoreQuery,
  stampParams,
  verifyScheduleBody,
  volumeModeBody,
} from '../../src/api/schemas/index.js';
import { parseRequest, type RequestPart } from '../../src/api/validate.js';

/** The 400 parseRequest throws for `input`. */
function refusal(schema: Parameters<typeof parseRequest>[0], input: unknown, part: RequestPart = 'body'): HttpError {
  try {
    parseRequest(schema, input, part);
  } catch (err) {
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_request');
    return err;
  }
  assert.fail(`${JSON.stringify(input)} was accepted`);
}

const schedule = { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 7 };

describe('scheduleBody (PUT /api/schedule)', () => {
  it('accepts the seed example and makes numbers strings, keep a number', () => {
    assert.deepEqual(parseRequest(scheduleBody, { ...schedule, minute: 15, hour: 3 }, 'body'), schedule);
    assert.equal(parseRequest(scheduleBody, { ...schedule, keep: '10' }, 'body').keep, 10);
    assert.equal(parseRequest(scheduleBody, { ...schedule, minute: ' 0,30 ' }, 'body').minute, '0,30');
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ['a value out of range', { minute: '60' }, 'minute', /^minute: "60" is out of range; allowed 0-59 \(e\.g\. /],
    ['a weekday beyond 7', { weekday: '8' }, 'weekday', /^weekday: .*allowed 0-7, 0 and 7 = Sunday/],
    ['a step of 0', { hour: '*/0' }, 'hour', /^hour: .*step.*allowed 0-23/],
    ['a range backwards', { day: '5-1' }, 'day', /^day: .*start is after its end.*allowed 1-31/],
    ['two expressions in one field', { weekday: '1-5 *' }, 'weekday', /one expression/],
    ['a fraction', { minute: 1.5 }, 'minute', /^minute: 1\.5 is not a whole number/],
    ['a value of another type', { month: true }, 'month', /^month: expected a string or whole number, got true/],
    ['null', { hour: null }, 'hour', /^hour: expected a string or whole number, got null/],
    ['keep 0', { keep: 0 }, 'keep', /^keep: 0 is too small.*allowed 1-1000/],
    ['keep not a number', { keep: 'abc' }, 'keep', /^keep: "abc" is not a whole number/],
    ['keep a fraction', { keep: 1.5 }, 'keep', /^keep: 1\.5 is not a whole number/],
    ['keep too large', { keep: 1e300 }, 'keep', /maximum of 1000/],
    ['an unknown field', { second: '0' }, 'second', /^second: unknown field; only the five crontab fields \(minute, hour, day, month, weekday\) and keep are accepted$/],
    ['a day that never comes', { day: '31', month: '4,6', weekday: '*' }, 'day', /^day: "31" never occurs in month "4,6", so the schedule would never run; allowed 1-31/],
  ];
  for (const [what, change, field, message] of bad) {
    it(`names ${field} for ${what}`, () => {
      const err = refusal(scheduleBody, { ...schedule, ...change });
      assert.equal(err.field, field);
      assert.match(err.message, message);
    });
  }

  it('names a missing field with its range, in crontab order', () => {
    const { hour: _h, weekday: _w, ...body } = schedule;
    const err = refusal(scheduleBody, body);
    assert.equal(err.field, 'hour');
    assert.match(err.message, /^hour: the value is missing; allowed 0-23/);
    const { keep: _k, ...noKeep } = schedule;
    assert.match(refusal(scheduleBody, noKeep).message, /^keep: the value is missing/);
  });

  it('names an unknown field before a bad value', () => {
    const err = refusal(scheduleBody, { ...schedule, minute: '99', year: '2026' });
    assert.equal(err.field, 'year');
  });

  for (const [name, body] of [['null', null], ['an array', []], ['a string', '15 3 * * 1-5'], ['a number', 42], ['missing', undefined]] as const) {
    it(`names body when the body is ${name}`, () => {
      const err = refusal(scheduleBody, body);
      assert.equal(err.field, 'body');
      assert.equal(err.message, 'body: expected a JSON object with minute, hour, day, month, weekday, keep');
    });
  }
});

describe('verifyScheduleBody (PUT /api/verify-schedule)', () => {
  it('takes the five crontab fields and no keep', () => {
    const { keep: _keep, ...fields } = schedule;
    assert.deepEqual(parseRequest(verifyScheduleBody, { ...fields, hour: 5 }, 'body'), { ...fields, hour: '5' });
    const err = refusal(verifyScheduleBody, schedule);
    assert.equal(err.field, 'keep');
    assert.match(err.message, /^keep: unknown field; only the five crontab fields \(minute, hour, day, month, weekday\) are accepted$/);
    assert.equal(refusal(verifyScheduleBody, { ...fields, hour: '24' }).field, 'hour');
    assert.equal(refusal(verifyScheduleBody, { ...fields, day: '30', month: '2', weekday: '*' }).field, 'day');
    assert.equal(refusal(verifyScheduleBody, []).field, 'body');
  });
});

describe('runBackupBody (POST /api/backups)', () => {
  it('means every volume without a body or with {}; some volumes, each once', () => {
    assert.equal(parseRequest(runBackupBody, undefined, 'body'), undefined);
    assert.equal(parseRequest(runBackupBody, {}, 'body')?.volumes, undefined);
    assert.deepEqual(parseRequest(runBackupBody, { volumes: ['elexisdb', 'pacsdata', 'elexisdb'] }, 'body')?.volumes, ['elexisdb', 'pacsdata']);
  });

  for (const volumes of ['../etc', [], ['../etc'], ['Elexis'], [1], null, {}]) {
    it(`names volumes for ${JSON.stringify(volumes)}`, () => {
      const err = refusal(runBackupBody, { volumes });
      assert.equal(err.field, 'volumes');
      assert.equal(err.message, 'volumes must be a non-empty list of volume names like ["elexisdb", "pacsdata"]');
    });
  }

  it('names an unknown field, and body for a body that is no object (an empty array too)', () => {
    const err = refusal(runBackupBody, { volume: ['elexisdb'] });
    assert.equal(err.field, 'volume');
    assert.equal(err.message, 'unknown field "volume"; only "volumes" is accepted');
    for (const body of [[], ['elexisdb'], 'elexisdb', 1]) {
      const e = refusal(runBackupBody, body);
      assert.equal(e.field, 'body');
      assert.equal(e.message, 'body must be a JSON object like {"volumes": ["elexisdb"]}');
    }
  });
});

describe('stampParams (/api/backups/:stamp)', () => {
  it('takes a stamp and names a bad one', () => {
    assert.deepEqual(parseRequest(stampParams, { stamp: '2026-11-21-0315' }, 'path'), { stamp: '2026-11-21-0315' });
    for (const stamp of ['yesterday', '2026-13-01-0315', '2026-11-21-0315\n']) {
      const err = refusal(stampParams, { stamp }, 'path');
      assert.equal(err.field, 'stamp');
      assert.equal(err.message, `"${stamp}" is not a stamp like 2026-11-21-0315`);
    }
  });
});

describe('setRestoreBody (POST /api/restores)', () => {
  it('takes a stamp, optional volumes, and skipSafetyBackup false unless given', () => {
    assert.deepEqual(parseRequest(setRestoreBody, { stamp: '2026-11-21-0315' }, 'body'), { stamp: '2026-11-21-0315', skipSafetyBackup: false });
    assert.deepEqual(parseRequest(setRestoreBody, { stamp: '2026-11-21-0315', volumes: ['pacsdata'], skipSafetyBackup: true }, 'body'), {
      stamp: '2026-11-21-0315',
      volumes: ['pacsdata'],
      skipSafetyBackup: true,
    });
  });

  const bad: [unknown, string, string][] = [
    [{}, 'stamp', 'stamp must be a backup stamp like 2026-11-21-0315'],
    [{ stamp: '../x' }, 'stamp', 'stamp must be a backup stamp like 2026-11-21-0315'],
    [{ stamp: 202611210315 }, 'stamp', 'stamp must be a backup stamp like 2026-11-21-0315'],
    [{ stamp: '2026-11-21-0315', volumes: [] }, 'volumes', 'volumes must be a non-empty list of volume names like ["elexisdb", "pacsdata"]'],
    [{ stamp: '2026-11-21-0315', skipSafetyBackup: 'yes' }, 'skipSafetyBackup', 'skipSafetyBackup must be true or false'],
    [{ stamp: '2026-11-21-0315', skipSafetyBackup: null }, 'skipSafetyBackup', 'skipSafetyBackup must be true or false'],
    [{ stamp: '2026-11-21-0315', path: ['/x'] }, 'path', 'unknown field "path"; accepted: stamp, volumes, skipSafetyBackup, paths, into, from'],
    [{ stamp: '2026-11-21-0315', paths: ['eA'] }, 'volumes', 'a restore of paths needs exactly one volume: volumes: ["<volume>"]'],
    [{ stamp: '2026-11-21-0315', volumes: ['a'], paths: ['../x'] }, 'paths', 'paths must be a non-empty list (at most 1000) of entry keys from GET /api/backups/:stamp/archives/:volume/entries'],
    [{ stamp: '2026-11-21-0315', volumes: ['a'], into: 'beside' }, 'into', 'into needs paths (a single-file restore)'],
    [{ stamp: '2026-11-21-0315', volumes: ['a'], paths: ['eA'], into: 'over' }, 'into', 'into must be "beside" or "in-place"'],
    [undefined, 'body', 'body must be a JSON object'],
    [['2026-11-21-0315'], 'body', 'body must be a JSON object'],
  ];
  for (const [body, field, message] of bad) {
    it(`names ${field} for ${JSON.stringify(body)}`, () => {
      const err = refusal(setRestoreBody, body);
      assert.equal(err.field, field);
      assert.equal(err.message, message);
    });
  }
});

describe('sqlRestoreQuery (POST /api/restores/sql)', () => {
  it('reads skipSafetyBackup as true/1 or false/0, absent false, and names anything else', () => {
    for (const [value, expected] of [['true', true], ['1', true], ['false', false], ['0', false], [undefined, false]] as const) {
      assert.equal(parseRequest(sqlRestoreQuery, value === undefined ? {} : { skipSafetyBackup: value }, 'query').skipSafetyBackup, expected, String(value));
    }
    for (const value of ['yes', '', ['true', 'true']]) {
      const err = refusal(sqlRestoreQuery, { skipSafetyBackup: value }, 'query');
      assert.equal(err.field, 'skipSafetyBackup');
      assert.equal(err.message, 'skipSafetyBackup must be true or false (or 1 or 0)');
    }
  });
});

describe('confirmRestoreBody (POST /api/restores/:id/confirm)', () => {
  it('takes the token, names it when missing or empty, and an unknown field', () => {
    assert.deepEqual(parseRequest(confirmRestoreBody, { token: 'abc' }, 'body'), { token: 'abc' });
    for (const body of [{}, { token: '' }]) {
      const err = refusal(confirmRestoreBody, body);
      assert.equal(err.field, 'token');
      assert.equal(err.message, 'token is required: the token of the restore request');
    }
    assert.equal(refusal(confirmRestoreBody, { token: 42 }).message, 'token must be a string: the token of the restore request');
    const err = refusal(confirmRestoreBody, { token: 'abc', ageIdentity: 'not a key' });
    assert.equal(err.field, 'ageIdentity');
    assert.equal(err.message, 'ageIdentity must be the text of an age identity file (a line AGE-SECRET-KEY-1…)');
    assert.equal(refusal(confirmRestoreBody, { token: 'abc', extra: 1 }).message, 'unknown field "extra"; accepted: token, ageIdentity');
    assert.equal(refusal(confirmRestoreBody, 'abc').field, 'body');
  });
});

describe('jobsQuery (GET /api/jobs)', () => {
  it('has defaults, and takes each filter', () => {
    assert.deepEqual(parseRequest(jobsQuery, {}, 'query'), { limit: 50, offset: 0 });
    assert.deepEqual(parseRequest(jobsQuery, { limit: '1000', offset: '7', state: 'failed', queue: 'verify', other: 'x' }, 'query'), {
      limit: 1000,
      offset: 7,
      state: 'failed',
      queue: 'verify',
    });
  });

  const bad: [Record<string, unknown>, string, string][] = [
    [{ limit: '0' }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ limit: '1001' }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ limit: 'abc' }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ limit: ['1', '2'] }, 'limit', 'limit must be an integer from 1 to 1000'],
    [{ offset: '-1' }, 'offset', 'offset must be an integer from 0 to 9007199254740991'],
    [{ offset: '99999999999999999999' }, 'offset', 'offset must be an integer from 0 to 9007199254740991'],
    [{ state: 'sleeping' }, 'state', 'state must be one of active, waiting, waiting-children, prioritized, delayed, completed, failed'],
    [{ queue: 'nope' }, 'queue', 'queue must be one of schedule, archive, dump, verify, prune, copy, restore, alerts'],
    [{ limit: 'x', queue: 'nope' }, 'limit', 'limit must be an integer from 1 to 1000'],
  ];
  for (const [query, field, message] of bad) {
    it(`names ${field} for ${JSON.stringify(query)}`, () => {
      const err = refusal(jobsQuery, query, 'query');
      assert.equal(err.field, field);
      assert.equal(err.message, message);
    });
  }
});

describe('volumeModeBody (PUT /api/volumes/:name)', () => {
  it('names the weekday rule for every wrong fullOn, a number out of range included', () => {
    assert.deepEqual(parseRequest(volumeModeBody, { mode: 'incremental', fullOn: 7 }, 'body'), { mode: 'incremental', fullOn: 7 });
    for (const fullOn of [8, -1, 2.5, 'Sunday']) {
      const err = refusal(volumeModeBody, { mode: 'incremental', fullOn });
      assert.equal(err.field, 'fullOn');
      assert.equal(err.message, 'fullOn must be a weekday 0-7 (0 and 7 are Sunday, 1 is Monday) or null');
    }
  });
});

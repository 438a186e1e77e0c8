/**
 * The process's clock (src/runtime/clock.ts): the system time in production; with NODE_ENV=test
 * and OOB_TEST_CLOCK a fixed instant, an offset, or a file the test rewrites to move the time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nextMinute } from '../../src/core/clock.js';
import { clockFor, systemClock } from '../../src/runtime/clock.js';
import { ConfigError, loadConfig } from '../../src/runtime/config.js';

const base = { TZ: 'Europe/Zurich' };

describe('clockFor', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'oob-clock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the system clock without a spec', () => {
    assert.equal(clockFor(undefined), systemClock);
    const before = Date.now();
    const t = systemClock.now().getTime();
    assert.ok(t >= before && t <= Date.now());
  });

  it('stands still at a fixed instant', () => {
    const c = clockFor('2030-06-12T10:20:30+02:00');
    assert.equal(c.now().toISOString(), '2030-06-12T08:20:30.000Z');
    assert.equal(c.now().toISOString(), '2030-06-12T08:20:30.000Z');
  });

  it('moves the real time by an offset', () => {
    const hourAgo = clockFor('-3600000').now().getTime() - Date.now();
    assert.ok(hourAgo <= -3_600_000 && hourAgo > -3_601_000, String(hourAgo));
    const ahead = clockFor('+90000').now().getTime() - Date.now();
    assert.ok(ahead <= 90_000 && ahead > 89_000, String(ahead));
  });

  it('reads a file at every call, and sleepUntil resolves when the file reaches the time', async () => {
    const file = path.join(dir, 'clock');
    const set = async (s: string) => {
      await writeFile(`${file}.tmp`, s);
      await rename(`${file}.tmp`, file);
    };
    await set('2030-06-12T08:20:30Z');
    const c = clockFor(`file:${file}`);
    assert.equal(c.now().toISOString(), '2030-06-12T08:20:30.000Z');
    let woke = false;
    const sleeping = c.sleepUntil(nextMinute(c.now())).then(() => (woke = true));
    await c.sleepUntil(new Date('2030-06-12T08:20:00Z')); // in the past: at once
    assert.equal(woke, false, 'the file still says 08:20:30');
    await set('2030-06-12T08:21:00Z');
    await sleeping;
    assert.equal(woke, true);
    assert.equal(c.now().toISOString(), '2030-06-12T08:21:00.000Z');
  });

  it('refuses what it cannot read, naming the spec', () => {
    for (const bad of ['tomorrow', '12:00', '2030-13-45T00:00:00Z', '+1.5', `file:${path.join(dir, 'missing')}`]) {
      assert.throws(() => clockFor(bad), Error, bad);
    }
  });
});

describe('OOB_TEST_CLOCK', () => {
  it('is honoured only with NODE_ENV=test', () => {
    const spec = '2030-06-12T08:20:30Z';
    assert.equal(loadConfig({ ...base, NODE_ENV: 'test', OOB_TEST_CLOCK: spec }).testHooks.clock, spec);
    assert.equal(loadConfig({ ...base, OOB_TEST_CLOCK: spec }).testHooks.clock, undefined);
    assert.equal(loadConfig({ ...base, NODE_ENV: 'production', OOB_TEST_CLOCK: 'nonsense' }).testHooks.clock, undefined);
  });

  it('stops a test process with a bad value, naming the variable', () => {
    assert.throws(
      () => loadConfig({ ...base, NODE_ENV: 'test', OOB_TEST_CLOCK: 'yesterday' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'OOB_TEST_CLOCK',
    );
  });
});

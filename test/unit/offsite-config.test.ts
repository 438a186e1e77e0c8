/** The off-site variables: targets, recipients, bandwidth limit and retention policies, and their refusals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetentionPolicy } from '../../src/core/retention-policy.js';
import { type ConfigError, loadConfig } from '../../src/runtime/config.js';
import { configRefusal } from '../helpers/config-refusal.js';

const KEY = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const base = { TZ: 'Europe/Zurich', RCLONE_CONFIG: '/run/secrets/rclone.conf' };

const refused = (env: Record<string, string>): ConfigError => configRefusal({ ...base, ...env });

describe('off-site configuration', () => {
  it('reads targets, recipients, bandwidth limit and per-target retention', () => {
    const c = loadConfig({ ...base, OFFSITE_TARGETS: 'swiss-s3:practice, nas:/backup/oob', OFFSITE_AGE_RECIPIENTS: KEY, OFFSITE_BWLIMIT: '08:00,512k 19:00,off', OFFSITE_RETENTION: 'gfs:7/4/12 swiss-s3:practice=never' }, '/srv');
    assert.deepEqual(c.offsite, {
      targets: ['swiss-s3:practice', 'nas:/backup/oob'],
      rcloneConfig: '/run/secrets/rclone.conf',
      recipients: [KEY],
      identityFile: undefined,
      bwlimit: '08:00,512k 19:00,off',
      retention: { 'swiss-s3:practice': { kind: 'never' }, 'nas:/backup/oob': { kind: 'gfs', daily: 7, weekly: 4, monthly: 12 } },
      copyAttempts: 12,
      retryDelayMs: 60_000,
    });
  });

  it('is off without targets', () => {
    assert.equal(loadConfig({ ...base, OFFSITE_AGE_RECIPIENTS: KEY }).offsite, undefined);
  });

  for (const [env, variable, message] of [
    [{ OFFSITE_TARGETS: 'no-colon' }, 'OFFSITE_TARGETS', /remote:path/],
    [{ OFFSITE_TARGETS: '--config:/etc' }, 'OFFSITE_TARGETS', /remote:path/],
    [{ OFFSITE_TARGETS: ':local:/srv/backup' }, 'OFFSITE_TARGETS', /not an rclone connection string or a plain path: .*type = local/],
    [{ OFFSITE_TARGETS: '/mnt/nas/oob' }, 'OFFSITE_TARGETS', /use nas:\/srv\/backup/],
    [{ OFFSITE_TARGETS: 'a:x,a:x' }, 'OFFSITE_TARGETS', /listed twice/],
    [{ OFFSITE_TARGETS: 'a:x', RCLONE_CONFIG: '' }, 'RCLONE_CONFIG', /OFFSITE_TARGETS/],
    [{ OFFSITE_AGE_RECIPIENTS: `${KEY},age1short` }, 'OFFSITE_AGE_RECIPIENTS', /entry 2/],
    [{ OFFSITE_AGE_RECIPIENTS: `${KEY} ${KEY.slice(0, -1)}q` }, 'OFFSITE_AGE_RECIPIENTS', /entry 2: age recipient .* has a wrong checksum/],
    // The all-zero key: a valid bech32 string, but a low-order point (age refuses it too).
    [{ OFFSITE_AGE_RECIPIENTS: `age1${'q'.repeat(52)}5cu47z` }, 'OFFSITE_AGE_RECIPIENTS', /entry 1: .* is a low-order point/],
    [{ OFFSITE_BWLIMIT: 'fast' }, 'OFFSITE_BWLIMIT', /bandwidth limit/],
    [{ OFFSITE_RETENTION: 'keep:0' }, 'OFFSITE_RETENTION', /keep:N/],
    [{ OFFSITE_TARGETS: 'a:x', OFFSITE_RETENTION: 'b:y=never' }, 'OFFSITE_RETENTION', /not one of OFFSITE_TARGETS/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      const err = refused(env);
      assert.equal(err.variable, variable);
      assert.match(err.message, message);
    });
  }

  it('never repeats a private key pasted as a recipient', () => {
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    const err = refused({ OFFSITE_AGE_RECIPIENTS: secret });
    assert.ok(!err.message.includes(secret.slice(15)), err.message);
  });
});

describe('retention policies', () => {
  for (const [text, policy] of [
    ['keep:10', { kind: 'keep', keep: 10 }],
    ['GFS:7/4/12', { kind: 'gfs', daily: 7, weekly: 4, monthly: 12 }],
    ['gfs:0/0/6', { kind: 'gfs', daily: 0, weekly: 0, monthly: 6 }],
    ['never', { kind: 'never' }],
  ] as const) {
    it(`reads ${text}`, () => assert.deepEqual(parseRetentionPolicy(text), policy));
  }
  for (const text of ['keep', 'keep:0', 'gfs:0/0/0', 'gfs:7/4', 'forever']) {
    it(`refuses ${text}`, () => assert.ok('problem' in parseRetentionPolicy(text)));
  }
});

/**
 * The environment schema (src/runtime/config/) through loadConfig: every default, the values derived
 * from other variables, and a bad value for every variable that checks its value, each refused with
 * a message that names the variable (and never repeats a secret).
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { type ConfigError, loadConfig } from '../../src/runtime/config.js';
import { configRefusal } from '../helpers/config-refusal.js';
import { VARIABLE_NAMES, envSchema } from '../../src/runtime/config/env-schema.js';
import { variableDocs } from '../../src/runtime/config/variables.js';

const base = { TZ: 'Europe/Zurich' };

const refusal = (env: Record<string, string>): ConfigError => configRefusal({ ...base, ...env });

describe('loadConfig: defaults', () => {
  it('has zero-configuration defaults under ./data, loopback without a token', () => {
    assert.deepEqual(loadConfig(base, '/srv/oob'), {
      redisUrl: undefined,
      queuePrefix: 'oob',
      backupDir: '/srv/oob/data/backup',
      volumes: { kind: 'dir', dir: '/srv/oob/data/volumes' },
      timezone: 'Europe/Zurich',
      host: '127.0.0.1',
      port: 3000,
      apiToken: undefined,
      workerConcurrency: 1,
      workerNice: 10,
      gzipLevel: 5,
      gzipInflate: 'auto',
      archiveAttempts: 3,
      db: undefined,
      localRetention: undefined,
      offsite: undefined,
      restoreConfirmTtlMs: 600_000,
      restoreThreads: os.availableParallelism() >= 2 ? 2 : 0,
      restoreWritebackBytes: 256 * 1024 * 1024,
      restoreSpaceRatio: 3,
      maxUploadBytes: 20 * 1024 ** 3,
      uploadIdleTimeoutMs: 60_000,
      allowedHosts: [],
      httpHeadersTimeoutMs: 30_000,
      httpRequestTimeoutMs: 300_000,
      dashboardReadOnly: false,
      tls: undefined,
      redisTlsCaFile: undefined,
      shutdownTimeoutMs: 30_000,
      jobLockMs: 60_000,
      stalledIntervalMs: 30_000,
      volumeLockTtlMs: 60_000,
      gzipParallel: true,
      notify: { webhookUrls: [], on: 'failure', attempts: 20, retryDelayMs: 5000 },
      sizeDropAlert: 0.5,
      verifyExtract: false,
      catchUp: true,
      maintenanceIntervalMs: 60_000,
      overdueCheckIntervalMs: 900_000,
      overdueGraceMs: 7_200_000,
      spaceMarginBytes: 256 * 1024 * 1024,
      testHooks: {},
      dataDir: '/srv/oob/data',
      logLevel: 'info',
    });
  });

  it('gives an unset or blank variable its documented default, parsed like a given value', () => {
    const unset = envSchema.parse({}) as Record<string, unknown>;
    for (const name of VARIABLE_NAMES) {
      const doc = variableDocs.get(envSchema.shape[name])!;
      assert.ok(doc, `${name} has no documentation`);
      // Blank is unset; only a password keeps its blanks (one may end in a space).
      for (const blank of name === 'DB_PASSWORD' ? [''] : ['', ' ']) {
        const parsed = envSchema.parse({ [name]: blank }) as Record<string, unknown>;
        assert.deepEqual(parsed[name], unset[name], `${name}: ${JSON.stringify(blank)} is unset`);
      }
      if (doc.default !== undefined) {
        const given = envSchema.parse({ [name]: doc.default }) as Record<string, unknown>;
        assert.deepEqual(unset[name], given[name], `${name}: unset means ${doc.default}`);
      } else {
        // No default of its own: derived in config-from-env.ts (then stated by defaultText) or none.
        assert.equal(unset[name], undefined, name);
      }
    }
  });

  it('has the machine-dependent default of RESTORE_THREADS, and takes 0', () => {
    assert.equal(loadConfig(base).restoreThreads, os.availableParallelism() >= 2 ? 2 : 0);
    assert.equal(loadConfig({ ...base, RESTORE_THREADS: '0' }).restoreThreads, 0);
    assert.equal(loadConfig({ ...base, WORKER_NICE: '0' }).workerNice, 0);
  });

  it('takes RESTORE_WRITEBACK_MIB in MiB, 0 for no early flushes', () => {
    assert.equal(loadConfig({ ...base, RESTORE_WRITEBACK_MIB: '64' }).restoreWritebackBytes, 64 * 1024 * 1024);
    assert.equal(loadConfig({ ...base, RESTORE_WRITEBACK_MIB: '0' }).restoreWritebackBytes, 0);
  });

  it('takes the system time zone without TZ, and a glibc ":Zone"', () => {
    assert.equal(loadConfig({}).timezone, Intl.DateTimeFormat().resolvedOptions().timeZone);
    assert.equal(loadConfig({ TZ: ':Europe/Zurich' }).timezone, 'Europe/Zurich');
  });
});

describe('loadConfig: derived values', () => {
  it('listens on all interfaces only with a token', () => {
    assert.equal(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32) }).host, '0.0.0.0');
    assert.equal(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32), HOST: '10.0.0.1' }).host, '10.0.0.1');
  });

  it('parses VOLUMES as name=path pairs, paths against the working directory', () => {
    const c = loadConfig({ ...base, VOLUMES: 'elexisdb=/mnt/elexisdb, pacsdata=pacs' }, '/srv');
    assert.deepEqual(c.volumes, { kind: 'list', volumes: { elexisdb: '/mnt/elexisdb', pacsdata: '/srv/pacs' } });
    // Names that a plain object already "has" through its prototype are volumes like any other.
    assert.deepEqual(loadConfig({ ...base, VOLUMES: 'constructor=/c' }, '/srv').volumes, { kind: 'list', volumes: { constructor: '/c' } });
    assert.deepEqual(loadConfig({ ...base, DATA_DIR: 'd', BACKUP_DIR: '/b' }, '/srv').volumes, { kind: 'dir', dir: '/srv/d/volumes' });
    assert.equal(loadConfig({ ...base, DATA_DIR: 'd', BACKUP_DIR: '/b' }, '/srv').backupDir, '/b');
  });

  it('reads percentages, webhooks and seconds as milliseconds', () => {
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '30%' }).sizeDropAlert, 0.3);
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '30' }).sizeDropAlert, 0.3);
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '0.3' }).sizeDropAlert, 0.3);
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '0' }).sizeDropAlert, 0);
    assert.deepEqual(loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'https://a/x, http://b/y', NOTIFY_ON: 'always' }).notify, {
      webhookUrls: ['https://a/x', 'http://b/y'],
      on: 'always',
      attempts: 20,
      retryDelayMs: 5000,
    });
    assert.equal(loadConfig({ ...base, NOTIFY_RETRY_DELAY: '0.5' }).notify.retryDelayMs, 500);
    const t = loadConfig({ ...base, HTTP_HEADERS_TIMEOUT: '1', HTTP_REQUEST_TIMEOUT: '2.5', UPLOAD_IDLE_TIMEOUT: '0.5', LOCK_DURATION: '7' });
    assert.deepEqual([t.httpHeadersTimeoutMs, t.httpRequestTimeoutMs, t.uploadIdleTimeoutMs, t.jobLockMs], [1000, 2500, 500, 7000]);
    assert.equal(loadConfig({ ...base, SPACE_MARGIN_MB: '1' }).spaceMarginBytes, 1024 * 1024);
  });

  it('reads flags in any spelling', () => {
    for (const on of ['1', 'true', 'YES', 'On']) assert.equal(loadConfig({ ...base, VERIFY_EXTRACT: on }).verifyExtract, true, on);
    for (const off of ['0', 'false', 'no', 'OFF']) assert.equal(loadConfig({ ...base, CATCH_UP: off }).catchUp, false, off);
  });

  it('has a database only with DB_HOST; TLS on with a CA or cert, verifying with a CA', () => {
    assert.equal(loadConfig({ ...base, DB_NAME: 'other' }).db, undefined);
    const db = loadConfig({ ...base, DB_HOST: 'elexisdb', DB_PASSWORD: ' secret ', DB_SSL_CA: '/ca.pem' }).db!;
    assert.deepEqual([db.host, db.port, db.user, db.database, db.password, db.dumpName], ['elexisdb', 3306, 'root', 'elexis', ' secret ', 'elexisdb-sql']);
    assert.deepEqual(db.ssl, { ca: '/ca.pem', cert: undefined, key: undefined, verifyServerCert: true });
    assert.equal(loadConfig({ ...base, DB_HOST: 'db' }).db!.ssl, undefined);
    assert.equal(loadConfig({ ...base, DB_HOST: 'db', DB_PASSWORD: '' }).db!.password, undefined);
    assert.deepEqual(loadConfig({ ...base, DB_HOST: 'db', DB_SSL_CERT: '/c', DB_SSL_KEY: '/k' }).db!.ssl, { ca: undefined, cert: '/c', key: '/k', verifyServerCert: false });
    assert.deepEqual(loadConfig({ ...base, DB_HOST: 'db', DB_SSL: 'on' }).db!.ssl, { ca: undefined, cert: undefined, key: undefined, verifyServerCert: false });
    assert.equal(loadConfig({ ...base, DB_HOST: 'db', DB_SSL_CA: '/ca', DB_SSL: 'off' }).db!.ssl, undefined);
    assert.equal(loadConfig({ ...base, DB_HOST: 'db', DB_SSL_CA: '/ca', DB_SSL_VERIFY_SERVER_CERT: 'no' }).db!.ssl!.verifyServerCert, false);
  });

  it('serves HTTPS with both TLS files', () => {
    assert.deepEqual(loadConfig({ ...base, TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' }).tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  it('allows only loopback host names when listening on loopback, any with a token further out', () => {
    assert.deepEqual(loadConfig(base).allowedHosts, []);
    assert.equal(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32) }).allowedHosts, '*');
    assert.deepEqual(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32), HOST: '127.0.0.1' }).allowedHosts, []);
    assert.deepEqual(loadConfig({ ...base, ALLOWED_HOSTS: 'Backup.Praxis.local, 192.168.1.10,[fe80::1], ::2' }).allowedHosts, ['backup.praxis.local', '192.168.1.10', 'fe80::1', '::2']);
    assert.equal(loadConfig({ ...base, ALLOWED_HOSTS: '*' }).allowedHosts, '*');
  });

  it('reads the failure injection only under NODE_ENV=test', () => {
    const hooks = { OOB_TEST_FAIL_SWAP: 'pacsdata:3', OOB_TEST_CORRUPT_BEFORE_VERIFY: 'elexisdb' };
    assert.deepEqual(loadConfig({ ...base, ...hooks, NODE_ENV: 'test' }).testHooks, { failSwap: { volume: 'pacsdata', afterRenames: 3 }, corruptBeforeVerify: 'elexisdb' });
    assert.deepEqual(loadConfig({ ...base, ...hooks, NODE_ENV: 'production' }).testHooks, {});
    assert.deepEqual(loadConfig({ ...base, OOB_TEST_FAIL_SWAP: 'garbage' }).testHooks, {});
  });
});

describe('loadConfig: bad values name the variable', () => {
  /** Variables that take any text (paths, host names, the password): nothing to refuse. */
  const ANY_TEXT = [
    'DATA_DIR', 'BACKUP_DIR', 'VOLUMES_DIR', 'REDIS_TLS_CA_FILE', 'HOST', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'DB_HOST', 'DB_USER',
    'DB_PASSWORD', 'DB_SSL_CA', 'DB_SSL_CERT', 'DB_SSL_KEY', 'NODE_ENV', 'OOB_TEST_CORRUPT_BEFORE_VERIFY',
    'RCLONE_CONFIG', 'OFFSITE_AGE_IDENTITY_FILE',
  ];
  /** Bad values of each variable that checks its value; the environment around it where one is needed. */
  const BAD: Record<string, (string | Record<string, string>)[]> = {
    SPACE_MARGIN_MB: ['-1', '1.5', '10000001'],
    LOCAL_RETENTION: ['keep:3', 'never', 'gfs:0/0/0'],
    OFFSITE_TARGETS: ['no-colon', 'a:x,a:x', '-a:x'],
    OFFSITE_AGE_RECIPIENTS: ['age1short', 'ssh-ed25519 AAAA'],
    OFFSITE_BWLIMIT: ['fast', '10 M'],
    OFFSITE_RETENTION: ['keep:0', 'gfs:1/2', 'forever'],
    OFFSITE_COPY_ATTEMPTS: ['0', '51'],
    OFFSITE_RETRY_DELAY: ['0', '86401'],
    VOLUMES: ['Bad=/x', 'a=/x,a=/y', 'a=', '=/x', ','],
    REDIS_URL: ['http://x', 'not a url'],
    QUEUE_PREFIX: ['a:b', 'a b'],
    PORT: ['70000', 'abc', '-1'],
    API_TOKEN: ['short', 'token with a blank 0123456789'],
    ALLOWED_HOSTS: ['https://backup.praxis.local', 'backup.praxis.local:3000', 'a b'],
    HTTP_HEADERS_TIMEOUT: ['0', '3601'],
    HTTP_REQUEST_TIMEOUT: ['long'],
    MAX_UPLOAD_BYTES: ['1023', '20G'],
    UPLOAD_IDLE_TIMEOUT: ['-1', '0.01'],
    DASHBOARD_READ_ONLY: ['maybe'],
    TZ: ['Mars/Olympus'],
    CATCH_UP: ['2'],
    MAINTENANCE_INTERVAL: ['0', '1.5'],
    WORKER_CONCURRENCY: ['0', '65'],
    WORKER_NICE: ['20', '-5'],
    GZIP_LEVEL: ['10'],
    GZIP_INFLATE: ['fast', 'LIBDEFLATE'],
    GZIP_PARALLEL: ['all'],
    ARCHIVE_ATTEMPTS: ['0', '21'],
    VERIFY_EXTRACT: ['sometimes'],
    SHUTDOWN_TIMEOUT: ['0'],
    LOCK_DURATION: ['0', '1m'],
    STALLED_INTERVAL: ['3601'],
    VOLUME_LOCK_TTL: ['1'],
    RESTORE_CONFIRM_TTL: ['0', '86401'],
    RESTORE_SPACE_RATIO: ['0.5', 'x'],
    RESTORE_THREADS: ['9', 'two'],
    RESTORE_WRITEBACK_MIB: ['-1', '0.5', '65537'],
    DB_PORT: ['0', 'mysql'],
    DB_NAME: ['elexis; drop', 'elexis-db'],
    DB_DUMP_NAME: ['Dump', 'a_b'],
    DB_SSL: ['required'],
    DB_SSL_VERIFY_SERVER_CERT: ['strict'],
    NOTIFY_WEBHOOK_URL: ['ftp://x', 'https://ok/x, nope'],
    NOTIFY_ON: ['sometimes'],
    NOTIFY_ATTEMPTS: ['0', '101'],
    NOTIFY_RETRY_DELAY: ['1h', '0'],
    OVERDUE_CHECK_INTERVAL: ['0'],
    OVERDUE_GRACE: ['604801'],
    SIZE_DROP_ALERT: ['150%', '100', 'half'],
    LOG_LEVEL: ['loud'],
    OOB_TEST_FAIL_SWAP: [{ NODE_ENV: 'test', OOB_TEST_FAIL_SWAP: 'x' }],
    OOB_TEST_CLOCK: [{ NODE_ENV: 'test', OOB_TEST_CLOCK: 'yesterday' }],
  };

  it('has bad values for every variable that checks its value', () => {
    for (const name of VARIABLE_NAMES) {
      if (!ANY_TEXT.includes(name)) assert.ok(BAD[name], `no bad value of ${name} is tested`);
    }
  });

  for (const [variable, values] of Object.entries(BAD)) {
    for (const value of values) {
      const env = typeof value === 'string' ? { [variable]: value } : value;
      it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
        const err = refusal(env);
        assert.equal(err.variable, variable);
        assert.ok(err.message.startsWith(`${variable}: `), err.message);
      });
    }
  }

  const crossRules: [Record<string, string>, string, RegExp][] = [
    [{ HOST: '0.0.0.0' }, 'API_TOKEN', /must be set when the API listens on 0\.0\.0\.0/],
    [{ VOLUMES: 'a=/x', VOLUMES_DIR: '/y' }, 'VOLUMES', /either VOLUMES or VOLUMES_DIR/],
    [{ TLS_CERT_FILE: '/c.pem' }, 'TLS_KEY_FILE', /set both/],
    [{ TLS_KEY_FILE: '/k.pem' }, 'TLS_CERT_FILE', /set both/],
  ];
  for (const [env, variable, message] of crossRules) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      const err = refusal(env);
      assert.equal(err.variable, variable);
      assert.match(err.message, message);
    });
  }

  it('names every bad variable at once', () => {
    const err = refusal({ PORT: 'x', GZIP_LEVEL: '11' });
    assert.deepEqual(err.problems.map((p) => p.variable), ['PORT', 'GZIP_LEVEL']);
    assert.match(err.message, /^PORT: must be an integer from 0 to 65535, got "x"; GZIP_LEVEL: must be an integer from 0 to 9, got "11"$/);
  });

  it('never repeats the value of a secret variable', () => {
    const secrets = VARIABLE_NAMES.filter((name) => variableDocs.get(envSchema.shape[name])?.secret);
    assert.deepEqual(secrets.sort(), ['API_TOKEN', 'DB_PASSWORD', 'NOTIFY_WEBHOOK_URL', 'REDIS_URL']);
    const cases: Record<string, string>[] = [
      { API_TOKEN: 'hunter2' },
      { API_TOKEN: 'hunter2 hunter2 hunter2' },
      { REDIS_URL: 'http://user:hunter2@redis' },
      { REDIS_URL: 'redis://:hunter2@[bad' },
      { NOTIFY_WEBHOOK_URL: 'https://hooks.example/ok, ftp://user:hunter2@host/x' },
      { NOTIFY_WEBHOOK_URL: 'hunter2' },
    ];
    for (const env of cases) {
      const err = refusal(env);
      assert.doesNotMatch(err.message, /hunter2/, err.message);
    }
    // A short value is refused for its length, in plain words.
    assert.equal(refusal({ API_TOKEN: 'a' }).message, 'API_TOKEN: must be at least 16 characters (e.g. `openssl rand -hex 32`)');
  });
});

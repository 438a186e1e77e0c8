import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/runtime/config.js';

const base = { TZ: 'Europe/Zurich' };

describe('loadConfig', () => {
  it('has zero-configuration defaults under ./data, loopback without a token', () => {
    const c = loadConfig(base, '/srv/oob');
    assert.equal(c.backupDir, '/srv/oob/data/backup');
    assert.deepEqual(c.volumes, { kind: 'dir', dir: '/srv/oob/data/volumes' });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 3000);
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.queuePrefix, 'oob');
    assert.equal(c.gzipLevel, 5);
    assert.equal(c.workerNice, 10);
    assert.equal(loadConfig({ ...base, WORKER_NICE: '0' }).workerNice, 0);
    assert.equal(c.restoreThreads, os.availableParallelism() >= 2 ? 2 : 0);
    assert.equal(loadConfig({ ...base, RESTORE_THREADS: '0' }).restoreThreads, 0);
  });

  it('listens on all interfaces only with a token', () => {
    assert.equal(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32) }).host, '0.0.0.0');
  });

  it('parses VOLUMES as name=path pairs', () => {
    const c = loadConfig({ ...base, VOLUMES: 'elexisdb=/mnt/elexisdb, pacsdata=/mnt/pacsdata' }, '/');
    assert.deepEqual(c.volumes, { kind: 'list', volumes: { elexisdb: '/mnt/elexisdb', pacsdata: '/mnt/pacsdata' } });
  });

  it('reads percentages, webhooks and the database settings', () => {
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '30%' }).sizeDropAlert, 0.3);
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '0.3' }).sizeDropAlert, 0.3);
    assert.equal(loadConfig({ ...base, SIZE_DROP_ALERT: '0' }).sizeDropAlert, 0);
    assert.deepEqual(loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'https://a/x, http://b/y' }).notify, {
      webhookUrls: ['https://a/x', 'http://b/y'],
      on: 'failure',
      attempts: 20,
      retryDelayMs: 5000,
    });
    assert.deepEqual(loadConfig({ ...base, NOTIFY_ATTEMPTS: '3', NOTIFY_RETRY_DELAY: '0.5' }).notify.attempts, 3);
    assert.deepEqual(loadConfig({ ...base, NOTIFY_RETRY_DELAY: '0.5' }).notify.retryDelayMs, 500);
    assert.equal(loadConfig(base).db, undefined);
    const db = loadConfig({ ...base, DB_HOST: 'elexisdb', DB_PASSWORD: ' secret ', DB_SSL_CA: '/ca.pem' }).db!;
    assert.deepEqual([db.host, db.port, db.user, db.database, db.password, db.dumpName], ['elexisdb', 3306, 'root', 'elexis', ' secret ', 'elexisdb-sql']);
    assert.deepEqual(db.ssl, { ca: '/ca.pem', cert: undefined, key: undefined, verifyServerCert: true });
  });

  it('allows only loopback host names when listening on loopback, any with a token further out', () => {
    assert.deepEqual(loadConfig(base).allowedHosts, []);
    assert.equal(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32) }).allowedHosts, '*');
    assert.deepEqual(loadConfig({ ...base, API_TOKEN: 'x'.repeat(32), HOST: '127.0.0.1' }).allowedHosts, []);
    assert.deepEqual(loadConfig({ ...base, ALLOWED_HOSTS: 'Backup.Praxis.local, 192.168.1.10,[fe80::1], ::2' }).allowedHosts, ['backup.praxis.local', '192.168.1.10', 'fe80::1', '::2']);
    assert.equal(loadConfig({ ...base, ALLOWED_HOSTS: '*' }).allowedHosts, '*');
  });

  it('reads the HTTP and upload timeouts in seconds, fractions allowed', () => {
    const c = loadConfig(base);
    assert.deepEqual([c.httpHeadersTimeoutMs, c.httpRequestTimeoutMs, c.uploadIdleTimeoutMs], [30_000, 300_000, 60_000]);
    const t = loadConfig({ ...base, HTTP_HEADERS_TIMEOUT: '1', HTTP_REQUEST_TIMEOUT: '2.5', UPLOAD_IDLE_TIMEOUT: '0.5' });
    assert.deepEqual([t.httpHeadersTimeoutMs, t.httpRequestTimeoutMs, t.uploadIdleTimeoutMs], [1000, 2500, 500]);
  });

  const bad: [Record<string, string>, string][] = [
    [{ API_TOKEN: 'token with a blank 0123456789' }, 'API_TOKEN'],
    [{ ALLOWED_HOSTS: 'https://backup.praxis.local' }, 'ALLOWED_HOSTS'],
    [{ ALLOWED_HOSTS: 'backup.praxis.local:3000' }, 'ALLOWED_HOSTS'],
    [{ ALLOWED_HOSTS: 'a b' }, 'ALLOWED_HOSTS'],
    [{ HTTP_HEADERS_TIMEOUT: '0' }, 'HTTP_HEADERS_TIMEOUT'],
    [{ HTTP_REQUEST_TIMEOUT: 'long' }, 'HTTP_REQUEST_TIMEOUT'],
    [{ UPLOAD_IDLE_TIMEOUT: '-1' }, 'UPLOAD_IDLE_TIMEOUT'],
    [{ NOTIFY_ATTEMPTS: '0' }, 'NOTIFY_ATTEMPTS'],
    [{ NOTIFY_RETRY_DELAY: '1h' }, 'NOTIFY_RETRY_DELAY'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: 'abc' }, 'PORT'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ GZIP_LEVEL: '10' }, 'GZIP_LEVEL'],
    [{ WORKER_NICE: '20' }, 'WORKER_NICE'],
    [{ WORKER_NICE: '-5' }, 'WORKER_NICE'],
    [{ RESTORE_THREADS: '9' }, 'RESTORE_THREADS'],
    [{ RESTORE_THREADS: 'two' }, 'RESTORE_THREADS'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ TZ: 'Mars/Olympus' }, 'TZ'],
    [{ QUEUE_PREFIX: 'a:b' }, 'QUEUE_PREFIX'],
    [{ VOLUMES: 'Bad=/x' }, 'VOLUMES'],
    [{ VOLUMES: 'a=/x,a=/y' }, 'VOLUMES'],
    [{ VOLUMES: 'a=/x', VOLUMES_DIR: '/y' }, 'VOLUMES'],
    [{ API_TOKEN: 'short' }, 'API_TOKEN'],
    [{ HOST: '0.0.0.0' }, 'API_TOKEN'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TLS_CERT_FILE: '/c.pem' }, 'TLS_KEY_FILE'],
    [{ TLS_KEY_FILE: '/k.pem' }, 'TLS_CERT_FILE'],
    [{ NOTIFY_WEBHOOK_URL: 'ftp://x' }, 'NOTIFY_WEBHOOK_URL'],
    [{ NOTIFY_ON: 'sometimes' }, 'NOTIFY_ON'],
    [{ SIZE_DROP_ALERT: '150%' }, 'SIZE_DROP_ALERT'],
    [{ DASHBOARD_READ_ONLY: 'maybe' }, 'DASHBOARD_READ_ONLY'],
    [{ DB_HOST: 'db', DB_NAME: 'elexis; drop' }, 'DB_NAME'],
    [{ DB_HOST: 'db', DB_DUMP_NAME: 'Dump' }, 'DB_DUMP_NAME'],
  ];
  for (const [env, variable] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && err.message.startsWith(`${variable}: `),
      );
    });
  }
});

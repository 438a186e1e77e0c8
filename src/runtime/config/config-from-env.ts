/**
 * From the parsed variables to the Config the processes use: paths resolved against the working
 * directory, the defaults that depend on other variables or on the machine, and the groups
 * (database, TLS, alerts) as objects. Its return type is the Config type, so there is no interface
 * to keep in step with the schema by hand.
 */
import os from 'node:os';
import path from 'node:path';
import type { VolumeSource } from '../../engine/fs/volumes.js';
import type { EnvVariables } from './env-schema.js';
import { LOOPBACK_HOSTS } from './http.js';
import { parseFailSwap } from './process.js';
import { systemTimeZone } from './schedule.js';

export function configFromEnv(env: EnvVariables, cwd: string) {
  const dataDir = path.resolve(cwd, env.DATA_DIR);
  // Without a token nobody may reach the API from outside: bind to loopback only.
  const host = env.HOST ?? (env.API_TOKEN ? '0.0.0.0' : '127.0.0.1');
  return {
    /** Undefined when REDIS_URL is unset: the all-in-one start may then run its own redis-server. */
    redisUrl: env.REDIS_URL,
    queuePrefix: env.QUEUE_PREFIX,
    backupDir: path.resolve(cwd, env.BACKUP_DIR ?? path.join(dataDir, 'backup')),
    volumes: volumeSource(env, cwd, dataDir),
    timezone: env.TZ ?? systemTimeZone(),
    host,
    port: env.PORT,
    apiToken: env.API_TOKEN,
    workerConcurrency: env.WORKER_CONCURRENCY,
    /** Niceness of a worker process (start:worker): backups yield the CPU to the practice's services. */
    workerNice: env.WORKER_NICE,
    gzipLevel: env.GZIP_LEVEL,
    /** Who inflates archive members: libdeflate when built (auto), or as GZIP_INFLATE says. */
    gzipInflate: env.GZIP_INFLATE,
    archiveAttempts: env.ARCHIVE_ATTEMPTS,
    /** The Elexis database, for SQL restores and dumps; undefined when DB_HOST is unset. */
    db: dbConfig(env),
    /** How long a restore request waits for its confirmation. */
    restoreConfirmTtlMs: env.RESTORE_CONFIRM_TTL,
    /** Writer threads a restore may start for small files when creating files is slow (0: never). */
    restoreThreads: env.RESTORE_THREADS ?? (os.availableParallelism() >= 2 ? 2 : 0),
    /** Extracted bytes between two early flushes of a restore's staging directory (0: none). */
    restoreWritebackBytes: env.RESTORE_WRITEBACK_MIB * 1024 * 1024,
    /** Free space a restore needs in a volume, as a multiple of the archive size when no manifest says more. */
    restoreSpaceRatio: env.RESTORE_SPACE_RATIO,
    maxUploadBytes: env.MAX_UPLOAD_BYTES,
    /** An upload is cut when a whole window of this length brings less than 64 KiB (idle or dripping client). */
    uploadIdleTimeoutMs: env.UPLOAD_IDLE_TIMEOUT,
    /**
     * Host names (lower case) the API answers to, besides the loopback names; `'*'` = any. Default:
     * only those when the API listens on loopback (it has no token then, so a browser on the server
     * must not be turned against it); any name when it listens further out (a token protects it).
     */
    allowedHosts: env.ALLOWED_HOSTS ?? (LOOPBACK_HOSTS.includes(host) ? [] : ('*' as const)),
    /** Time a client gets to send its request headers (Node's headersTimeout). */
    httpHeadersTimeoutMs: env.HTTP_HEADERS_TIMEOUT,
    /** Time a client gets to send a request body, except a SQL upload (which has uploadIdleTimeoutMs). */
    httpRequestTimeoutMs: env.HTTP_REQUEST_TIMEOUT,
    dashboardReadOnly: env.DASHBOARD_READ_ONLY,
    /** HTTPS for the API when both are set (then HTTPS only); the schema refuses one without the other. */
    tls: env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined,
    /** CA bundle for `rediss://` connections to a Redis with a private CA. */
    redisTlsCaFile: env.REDIS_TLS_CA_FILE,
    /** How long SIGTERM waits for running jobs before handing them back to the queue. */
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
    /** BullMQ job lock: a worker renews it every half; a killed worker's job stalls after it expires. */
    jobLockMs: env.LOCK_DURATION,
    /** How often workers look for stalled jobs (whose lock expired) and hand them to a live worker. */
    stalledIntervalMs: env.STALLED_INTERVAL,
    /** TTL of a per-volume lock; renewed every third while held, so it frees this long after a kill -9. */
    volumeLockTtlMs: env.VOLUME_LOCK_TTL,
    /** Compress independent chunks on all cores (multi-member gzip); false = one sequential gzip stream. */
    gzipParallel: env.GZIP_PARALLEL,
    /** GFS retention of BACKUP_DIR instead of the schedule's keep; undefined = keep. */
    localRetention: env.LOCAL_RETENTION,
    /** Off-site copies; undefined when OFFSITE_TARGETS is unset. */
    offsite: offsiteConfig(env, cwd),
    /** Webhooks; `attempts` and `retryDelayMs` (first backoff, doubling) of each delivery job. */
    notify: {
      webhookUrls: env.NOTIFY_WEBHOOK_URL ?? [],
      on: env.NOTIFY_ON,
      attempts: env.NOTIFY_ATTEMPTS,
      retryDelayMs: env.NOTIFY_RETRY_DELAY,
    },
    /** Flag an archive smaller than the previous one by this fraction (0.5 = half); 0 disables. */
    sizeDropAlert: env.SIZE_DROP_ALERT,
    /** Verification also test-extracts each archive into a temp dir. */
    verifyExtract: env.VERIFY_EXTRACT,
    /** At start-up, run once for a scheduled run that was missed while the service was down. */
    catchUp: env.CATCH_UP,
    /**
     * How often workers re-create a job scheduler that went missing or was changed by hand (from the
     * stored schedule), and look for interrupted restores to roll back or forward.
     */
    maintenanceIntervalMs: env.MAINTENANCE_INTERVAL,
    /** How often workers compare the newest archives with the schedule, and how late is overdue. */
    overdueCheckIntervalMs: env.OVERDUE_CHECK_INTERVAL,
    overdueGraceMs: env.OVERDUE_GRACE,
    /** Keep this much free in BACKUP_DIR on top of an archive's estimated size. */
    spaceMarginBytes: env.SPACE_MARGIN_MB * 1024 * 1024,
    /** Failure injection for the crash tests; only read when NODE_ENV=test. */
    testHooks: testHooks(env),
    /** Where `npm start` keeps its embedded Redis data. */
    dataDir,
    logLevel: env.LOG_LEVEL,
  };
}

function volumeSource(env: EnvVariables, cwd: string, dataDir: string): VolumeSource {
  if (env.VOLUMES === undefined) return { kind: 'dir', dir: path.resolve(cwd, env.VOLUMES_DIR ?? path.join(dataDir, 'volumes')) };
  const volumes = Object.fromEntries(Object.entries(env.VOLUMES).map(([name, dir]) => [name, path.resolve(cwd, dir)]));
  return { kind: 'list', volumes };
}

function dbConfig(env: EnvVariables) {
  if (env.DB_HOST === undefined) return undefined;
  const ca = env.DB_SSL_CA;
  const cert = env.DB_SSL_CERT;
  const ssl = (env.DB_SSL ?? (ca !== undefined || cert !== undefined))
    ? { ca, cert, key: env.DB_SSL_KEY, verifyServerCert: env.DB_SSL_VERIFY_SERVER_CERT ?? ca !== undefined }
    : undefined;
  return {
    host: env.DB_HOST,
    port: env.DB_PORT,
    user: env.DB_USER,
    password: env.DB_PASSWORD,
    database: env.DB_NAME,
    /** Base name of logical dumps and safety dumps: `<dumpName>_<stamp>.sql.gz`. */
    dumpName: env.DB_DUMP_NAME,
    ssl,
  };
}

function offsiteConfig(env: EnvVariables, cwd: string) {
  if (!env.OFFSITE_TARGETS?.length || env.RCLONE_CONFIG === undefined) return undefined;
  const retention = env.OFFSITE_RETENTION;
  return {
    targets: env.OFFSITE_TARGETS,
    rcloneConfig: path.resolve(cwd, env.RCLONE_CONFIG),
    recipients: env.OFFSITE_AGE_RECIPIENTS ?? [],
    identityFile: env.OFFSITE_AGE_IDENTITY_FILE === undefined ? undefined : path.resolve(cwd, env.OFFSITE_AGE_IDENTITY_FILE),
    bwlimit: env.OFFSITE_BWLIMIT,
    /** Each target's remote retention. */
    retention: Object.fromEntries(env.OFFSITE_TARGETS.map((t) => [t, (Object.hasOwn(retention.byTarget, t) ? retention.byTarget[t] : undefined) ?? retention.all])),
    copyAttempts: env.OFFSITE_COPY_ATTEMPTS,
    retryDelayMs: env.OFFSITE_RETRY_DELAY,
  };
}

function testHooks(env: EnvVariables): { failSwap?: { volume: string; afterRenames: number }; corruptBeforeVerify?: string; clock?: string } {
  if (env.NODE_ENV !== 'test') return {};
  const failSwap = env.OOB_TEST_FAIL_SWAP === undefined ? undefined : parseFailSwap(env.OOB_TEST_FAIL_SWAP);
  return {
    ...(failSwap ? { failSwap } : {}),
    ...(env.OOB_TEST_CORRUPT_BEFORE_VERIFY ? { corruptBeforeVerify: env.OOB_TEST_CORRUPT_BEFORE_VERIFY } : {}),
    ...(env.OOB_TEST_CLOCK ? { clock: env.OOB_TEST_CLOCK } : {}),
  };
}

/**
 * The one place the environment is read. `loadConfig` validates every variable once at start-up and
 * throws a ConfigError naming the variable, so a typo stops the process instead of surfacing at 03:15.
 */
import type { VolumeSource } from '../engine/fs/volumes.js';
import os from 'node:os';
import path from 'node:path';
import { isValidTimeZone } from '../core/cron.js';
import { isValidVolumeName } from '../core/names.js';
import { RECOMMENDED_GZIP_LEVEL } from '../engine/gzip/parallel-gzip.js';
import { clockFor } from './clock.js';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}


export type { VolumeSource };

export interface Config {
  /** Undefined when REDIS_URL is unset: the all-in-one start may then run its own redis-server. */
  redisUrl: string | undefined;
  queuePrefix: string;
  backupDir: string;
  volumes: VolumeSource;
  timezone: string;
  host: string;
  port: number;
  apiToken: string | undefined;
  workerConcurrency: number;
  /** Niceness of a worker process (start:worker): backups yield the CPU to the practice's services. */
  workerNice: number;
  gzipLevel: number;
  archiveAttempts: number;
  /** The Elexis database, for SQL restores and dumps; undefined when DB_HOST is unset. */
  db: DbConfig | undefined;
  /** How long a restore request waits for its confirmation. */
  restoreConfirmTtlMs: number;
  /** Writer threads a restore may start for small files when creating files is slow (0: never). */
  restoreThreads: number;
  /** Free space a restore needs in a volume, as a multiple of the archive size when no manifest says more. */
  restoreSpaceRatio: number;
  maxUploadBytes: number;
  /** An upload is cut when a whole window of this length brings less than 64 KiB (idle or dripping client). */
  uploadIdleTimeoutMs: number;
  /** Host names (lower case) the API answers to, besides the loopback names; `'*'` = any. */
  allowedHosts: string[] | '*';
  /** Time a client gets to send its request headers (Node's headersTimeout). */
  httpHeadersTimeoutMs: number;
  /** Time a client gets to send a request body, except a SQL upload (which has uploadIdleTimeoutMs). */
  httpRequestTimeoutMs: number;
  dashboardReadOnly: boolean;
  /** HTTPS for the API when both are set (then HTTPS only). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** CA bundle for `rediss://` connections to a Redis with a private CA. */
  redisTlsCaFile: string | undefined;
  /** BullMQ job lock: a worker renews it every half; a killed worker's job stalls after it expires. */
  jobLockMs: number;
  /** How often workers look for stalled jobs (whose lock expired) and hand them to a live worker. */
  stalledIntervalMs: number;
  /** TTL of a per-volume lock; renewed every third while held, so it frees this long after a kill -9. */
  volumeLockTtlMs: number;
  /** How long SIGTERM waits for running jobs before handing them back to the queue. */
  shutdownTimeoutMs: number;
  /** Compress independent chunks on all cores (multi-member gzip); 0 = one sequential gzip stream. */
  gzipParallel: boolean;
  /** Webhooks; `attempts` and `retryDelayMs` (first backoff, doubling) of each delivery job. */
  notify: { webhookUrls: string[]; on: 'failure' | 'always'; attempts: number; retryDelayMs: number };
  /** Flag an archive smaller than the previous one by this fraction (0.5 = half); 0 disables. */
  sizeDropAlert: number;
  /** Verification also test-extracts each archive into a temp dir (VERIFY_EXTRACT=1). */
  verifyExtract: boolean;
  /** At start-up, run once for a scheduled run that was missed while the service was down. */
  catchUp: boolean;
  /**
   * How often workers re-create a job scheduler that went missing or was changed by hand (from the
   * stored schedule), and look for interrupted restores to roll back or forward.
   */
  maintenanceIntervalMs: number;
  /** How often workers compare the newest archives with the schedule, and how late is overdue. */
  overdueCheckIntervalMs: number;
  overdueGraceMs: number;
  /** Keep this much free in BACKUP_DIR on top of an archive's estimated size. */
  spaceMarginBytes: number;
  /** Failure injection for the crash tests, and the clock (OOB_TEST_CLOCK, see clock.ts); only read when NODE_ENV=test. */
  testHooks: { failSwap?: { volume: string; afterRenames: number }; corruptBeforeVerify?: string; clock?: string };
  /** Where `npm start` keeps its embedded Redis data. */
  dataDir: string;
  logLevel: string;
}

export interface DbConfig {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  /** Base name of logical dumps and safety dumps: `<dumpName>_<stamp>.sql.gz`. */
  dumpName: string;
  ssl: { ca?: string; cert?: string; key?: string; verifyServerCert: boolean } | undefined;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Names of this machine's loopback interface: the only HOST allowed without API_TOKEN. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const dataDir = path.resolve(cwd, str(env, 'DATA_DIR') ?? 'data');
  const apiToken = str(env, 'API_TOKEN');
  if (apiToken !== undefined && apiToken.length < 16) {
    throw new ConfigError('API_TOKEN', 'must be at least 16 characters (e.g. `openssl rand -hex 32`)');
  }
  // A token is sent as `Authorization: Bearer <token>`, which ends at the first blank.
  if (apiToken !== undefined && /\s/.test(apiToken)) throw new ConfigError('API_TOKEN', 'must not contain spaces or other blanks');
  // Without a token nobody may reach the API from outside: bind to loopback only.
  const host = str(env, 'HOST') ?? (apiToken ? '0.0.0.0' : '127.0.0.1');
  if (apiToken === undefined && !LOOPBACK_HOSTS.includes(host)) {
    throw new ConfigError('API_TOKEN', `must be set when the API listens on ${host} (HOST); without it only loopback is allowed`);
  }
  return {
    redisUrl: redisUrl(env),
    queuePrefix: queuePrefix(env),
    backupDir: path.resolve(cwd, str(env, 'BACKUP_DIR') ?? path.join(dataDir, 'backup')),
    volumes: volumeSource(env, cwd, dataDir),
    timezone: timezone(env),
    host,
    port: int(env, 'PORT', 3000, 0, 65535),
    apiToken,
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 1, 1, 64),
    workerNice: int(env, 'WORKER_NICE', 10, 0, 19),
    // 5, not gzip's 6: within 1 % of gzip -6 on practice data and ~15 % faster (BENCHMARKS.md).
    gzipLevel: int(env, 'GZIP_LEVEL', RECOMMENDED_GZIP_LEVEL, 0, 9),
    archiveAttempts: int(env, 'ARCHIVE_ATTEMPTS', 3, 1, 20),
    db: dbConfig(env),
    restoreConfirmTtlMs: int(env, 'RESTORE_CONFIRM_TTL', 600, 1, 86_400) * 1000,
    // 2 where there are 2 cores or more (BENCHMARKS.md, "Restore of many small files"); 0 switches them off.
    restoreThreads: int(env, 'RESTORE_THREADS', os.availableParallelism() >= 2 ? 2 : 0, 0, 8),
    restoreSpaceRatio: num(env, 'RESTORE_SPACE_RATIO', 3, 1, 100),
    maxUploadBytes: int(env, 'MAX_UPLOAD_BYTES', 20 * 1024 ** 3, 1024, Number.MAX_SAFE_INTEGER),
    uploadIdleTimeoutMs: seconds(env, 'UPLOAD_IDLE_TIMEOUT', 60, 0.1, 3600),
    allowedHosts: allowedHosts(env, host),
    httpHeadersTimeoutMs: seconds(env, 'HTTP_HEADERS_TIMEOUT', 30, 0.1, 3600),
    httpRequestTimeoutMs: seconds(env, 'HTTP_REQUEST_TIMEOUT', 300, 0.1, 86_400),
    dashboardReadOnly: bool(env, 'DASHBOARD_READ_ONLY', false),
    tls: tlsFiles(env),
    redisTlsCaFile: str(env, 'REDIS_TLS_CA_FILE'),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT', 30, 1, 3600) * 1000,
    jobLockMs: int(env, 'LOCK_DURATION', 60, 1, 3600) * 1000,
    stalledIntervalMs: int(env, 'STALLED_INTERVAL', 30, 1, 3600) * 1000,
    volumeLockTtlMs: int(env, 'VOLUME_LOCK_TTL', 60, 2, 3600) * 1000,
    gzipParallel: bool(env, 'GZIP_PARALLEL', true),
    notify: notify(env),
    sizeDropAlert: percent(env, 'SIZE_DROP_ALERT', 0.5),
    verifyExtract: bool(env, 'VERIFY_EXTRACT', false),
    catchUp: bool(env, 'CATCH_UP', true),
    maintenanceIntervalMs: int(env, 'MAINTENANCE_INTERVAL', 60, 1, 3600) * 1000,
    overdueCheckIntervalMs: int(env, 'OVERDUE_CHECK_INTERVAL', 900, 1, 86_400) * 1000,
    overdueGraceMs: int(env, 'OVERDUE_GRACE', 7200, 0, 7 * 86_400) * 1000,
    spaceMarginBytes: int(env, 'SPACE_MARGIN_MB', 256, 0, 10_000_000) * 1024 * 1024,
    testHooks: testHooks(env),
    dataDir,
    logLevel: logLevel(env),
  };
}

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** "50%", "50" or "0.5" all mean one half; "0" disables. */
function percent(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(raw);
  const value = m ? Number(m[1]) / (m[2] === '%' || Number(m[1]) > 1 ? 100 : 1) : NaN;
  if (!(value >= 0 && value < 1)) throw new ConfigError(name, `must be a percentage from 0 to 99 (e.g. 50%), got "${raw}"`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** A duration given in seconds (fractions allowed, so tests can make it short), in ms. */
function seconds(env: Env, name: string, fallback: number, min: number, max: number): number {
  return Math.round(num(env, name, fallback, min, max) * 1000);
}

/**
 * ALLOWED_HOSTS: the names the Host header may carry (DNS rebinding: a page of evil.example whose
 * name resolves to 127.0.0.1 sends `Host: evil.example`). Loopback names are always allowed on top.
 * Default: only those when the API listens on loopback (it has no token then, so a browser on the
 * server must not be turned against it); any name when it listens further out (a token protects it).
 */
function allowedHosts(env: Env, listenHost: string): string[] | '*' {
  const raw = str(env, 'ALLOWED_HOSTS');
  if (raw === undefined) return LOOPBACK_HOSTS.includes(listenHost) ? [] : '*';
  if (raw === '*') return '*';
  const names = raw.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  return names.map((n) => {
    const ipv6 = /^\[?([0-9a-f]*:[0-9a-f:.]*:[0-9a-f.]*)\]?$/.exec(n);
    if (ipv6) return ipv6[1]!;
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(n)) {
      throw new ConfigError('ALLOWED_HOSTS', `expected host names without scheme or port, comma-separated (or *), got "${n}"`);
    }
    return n;
  });
}

function tlsFiles(env: Env): Config['tls'] {
  const certFile = str(env, 'TLS_CERT_FILE');
  const keyFile = str(env, 'TLS_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(certFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', 'set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  }
  return certFile && keyFile ? { certFile, keyFile } : undefined;
}

function notify(env: Env): Config['notify'] {
  const urls = (str(env, 'NOTIFY_WEBHOOK_URL') ?? '').split(/[\s,]+/).filter(Boolean);
  for (const u of urls) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError('NOTIFY_WEBHOOK_URL', `not an http(s) URL: "${u}" (several are separated by commas)`);
    }
  }
  const on = str(env, 'NOTIFY_ON') ?? 'failure';
  if (on !== 'failure' && on !== 'always') throw new ConfigError('NOTIFY_ON', `must be failure or always, got "${on}"`);
  return {
    webhookUrls: urls,
    on,
    attempts: int(env, 'NOTIFY_ATTEMPTS', 20, 1, 100),
    retryDelayMs: seconds(env, 'NOTIFY_RETRY_DELAY', 5, 0.01, 3600),
  };
}

function dbConfig(env: Env): DbConfig | undefined {
  const host = str(env, 'DB_HOST');
  if (host === undefined) return undefined;
  const database = str(env, 'DB_NAME') ?? 'elexis';
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new ConfigError('DB_NAME', `may hold letters, digits and "_" only, got "${database}"`);
  const dumpName = str(env, 'DB_DUMP_NAME') ?? 'elexisdb-sql';
  if (!isValidVolumeName(dumpName)) throw new ConfigError('DB_DUMP_NAME', `must look like elexisdb-sql ([a-z0-9-]), got "${dumpName}"`);
  return {
    host,
    port: int(env, 'DB_PORT', 3306, 1, 65535),
    user: str(env, 'DB_USER') ?? 'root',
    // Not trimmed: a password may end in a space.
    password: env.DB_PASSWORD === '' ? undefined : env.DB_PASSWORD,
    database,
    dumpName,
    ssl: dbSsl(env),
  };
}

function dbSsl(env: Env): DbConfig['ssl'] {
  const ca = str(env, 'DB_SSL_CA');
  const cert = str(env, 'DB_SSL_CERT');
  const key = str(env, 'DB_SSL_KEY');
  const enabled = bool(env, 'DB_SSL', ca !== undefined || cert !== undefined);
  if (!enabled) return undefined;
  return { ca, cert, key, verifyServerCert: bool(env, 'DB_SSL_VERIFY_SERVER_CERT', ca !== undefined) };
}

function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', `is not a URL: "${raw}" (e.g. redis://127.0.0.1:6379)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `must start with redis:// or rediss://, got "${url.protocol}"`);
  }
  return raw;
}

function queuePrefix(env: Env): string {
  const raw = str(env, 'QUEUE_PREFIX') ?? 'oob';
  // BullMQ joins key parts with ':' and job ids must not contain it.
  if (!/^[A-Za-z0-9_.-]+$/.test(raw)) {
    throw new ConfigError('QUEUE_PREFIX', `may hold letters, digits, "_", "." and "-" only, got "${raw}"`);
  }
  return raw;
}

function volumeSource(env: Env, cwd: string, dataDir: string): VolumeSource {
  const list = str(env, 'VOLUMES');
  if (list === undefined) {
    return { kind: 'dir', dir: path.resolve(cwd, str(env, 'VOLUMES_DIR') ?? path.join(dataDir, 'volumes')) };
  }
  if (str(env, 'VOLUMES_DIR') !== undefined) {
    throw new ConfigError('VOLUMES', 'set either VOLUMES or VOLUMES_DIR, not both');
  }
  const volumes: Record<string, string> = {};
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq).trim() : '';
    const dir = eq > 0 ? item.slice(eq + 1).trim() : '';
    if (!isValidVolumeName(name) || dir === '') {
      throw new ConfigError('VOLUMES', `expected name=path with name like elexisdb ([a-z0-9-]), got "${item}"`);
    }
    if (volumes[name] !== undefined) throw new ConfigError('VOLUMES', `volume "${name}" is listed twice`);
    volumes[name] = path.resolve(cwd, dir);
  }
  if (Object.keys(volumes).length === 0) throw new ConfigError('VOLUMES', 'lists no volume');
  return { kind: 'list', volumes };
}

function timezone(env: Env): string {
  const raw = str(env, 'TZ') ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  // A leading ':' is the glibc way of naming a zone file; Intl wants the bare name.
  const tz = raw.startsWith(':') ? raw.slice(1) : raw;
  if (!isValidTimeZone(tz)) throw new ConfigError('TZ', `unknown time zone "${raw}" (e.g. Europe/Zurich)`);
  return tz;
}

function testHooks(env: Env): Config['testHooks'] {
  if (env.NODE_ENV !== 'test') return {};
  const failSwap = str(env, 'OOB_TEST_FAIL_SWAP');
  const m = failSwap === undefined ? null : /^([a-z0-9-]+):(\d+)$/.exec(failSwap);
  if (failSwap !== undefined && !m) throw new ConfigError('OOB_TEST_FAIL_SWAP', 'expected <volume>:<renames>');
  const corrupt = str(env, 'OOB_TEST_CORRUPT_BEFORE_VERIFY');
  const clock = str(env, 'OOB_TEST_CLOCK');
  try {
    clockFor(clock);
  } catch (err) {
    throw new ConfigError('OOB_TEST_CLOCK', (err as Error).message);
  }
  return {
    ...(m ? { failSwap: { volume: m[1]!, afterRenames: Number(m[2]) } } : {}),
    ...(corrupt ? { corruptBeforeVerify: corrupt } : {}),
    ...(clock ? { clock } : {}),
  };
}

function logLevel(env: Env): string {
  const raw = str(env, 'LOG_LEVEL') ?? 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(raw)) throw new ConfigError('LOG_LEVEL', `must be one of ${levels.join(', ')}`);
  return raw;
}

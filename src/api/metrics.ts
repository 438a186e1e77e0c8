/**
 * Prometheus metrics for GET /metrics, in their own prom-client Registry (never the global one, so
 * tests and several contexts in one process cannot mix their series).
 *
 * Where the numbers come from. The API and the workers are separate processes, and there may be
 * several API replicas, so nothing that /metrics reports may live only in one process's memory.
 * Every value is derived at scrape time from the two places all processes share:
 * - BACKUP_DIR: per volume the newest archive (by the stamp in its name) gives the "last success"
 *   gauges: timestamp, size and duration from its `.manifest.json`; an archive without manifest
 *   (copied in by hand, earlier OOB versions) gives its file size and mtime and no duration.
 * - Redis: job counts per queue and state from BullMQ; failure and restore counters from BullMQ's
 *   finished-job sets (see below).
 * A fresh Metrics (and Registry) is built per scrape, so a volume whose archives are gone simply
 * disappears, and no replica can hold a stale series.
 *
 * Why the counters are not just `getJobCounts('failed')`. BullMQ trims its failed set (90 days /
 * 2000 jobs) at the moment the next job fails, so with rare failures (the normal case) a new failure
 * replaces an old one and that count stays at 1: `increase()` would never see it, and a Prometheus
 * counter must never go down. So each scrape runs one Lua script per finished set that counts the
 * jobs it has not seen before into a total kept in Redis (`<prefix>:oob-metrics:<queue>:<state>`):
 * a watermark (newest finishedOn seen) plus the jobs seen in the last 10 minutes before it, which
 * tolerates the few ms between a worker taking finishedOn and its job landing in the set, and any
 * clock skew between workers up to that window. Atomic in Redis, so replicas scraping at once count
 * each job once; monotonic; catches every way a job fails (processor error, stalled too often, a
 * parent failed by its child), and needs no hook in the workers. On the first scrape of an existing
 * installation it starts from the failed jobs still in history.
 * Kinds: the queue's name, except the `schedule` queue, whose `run` and `verify-newest` ticks count
 * as `run` and `verify`. The restore kind (set / sql) of a finished restore job is read from its
 * restore request (kept 30 days) when the job is first counted, i.e. at the next scrape.
 * Limits: a job that lands in its set more than 10 minutes behind the newest one counted is taken
 * for old history and not counted; counting starts with the first scrape, so jobs trimmed from
 * history before any scrape never count.
 *
 * The event methods (archiveSucceeded, jobFailed, restoreFinished) set the same metrics from
 * memory; `render` replaces those from every source it is given, which is how metricsText uses
 * them. They are there for a process that wants to push its own numbers without Redis (tests).
 *
 * No authentication on /metrics: like /healthz it is for the monitoring system, and Prometheus
 * scrapers are often configured without secrets. What it exposes is deliberately non-sensitive:
 * volume names, archive sizes, durations and timestamps, job counts per queue. No file paths, no
 * patient data, no error messages, no job data, no host names, no configuration.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { failureKind } from '../core/job-kinds.js';
import type { AppContext } from '../runtime/context.js';
import { parseArchiveName, type ArchiveKind, type ArchiveName } from '../core/names.js';
import type { BackupStore } from '../stores/backup-store.js';
import { freeBytes } from '../engine/fs/free-space.js';
import { QUEUE_NAMES } from '../stores/queues.js';

/** States reported by `oob_backup_queue_jobs`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export type RestoreOutcome = 'completed' | 'failed';
/** `unknown`: the restore request was gone when its job was first counted (metrics off for > 30 days). */
export type RestoreMetricKind = 'set' | 'sql' | 'unknown';

export interface LastArchive {
  volume: string;
  kind: ArchiveKind;
  file: string;
  stamp: string;
  sizeBytes: number;
  /** null when the archive has no (readable) manifest. */
  durationMs: number | null;
  /** When the archive was completed: the manifest's createdAt, else the file's mtime. */
  at: Date;
  source: 'manifest' | 'file';
}

export interface ScrapeSources {
  queueCounts: () => Promise<Record<string, Record<string, number>>>;
  backupDirFreeBytes?: () => Promise<number>;
  /** Replaces the per-volume gauges set by archiveSucceeded. */
  lastArchives?: () => Promise<Record<string, LastArchive>>;
  /** Total failed jobs by kind; replaces what jobFailed counted. */
  jobFailures?: () => Promise<Record<string, number>>;
  /** Total finished restores; replaces what restoreFinished counted. */
  restoreOutcomes?: () => Promise<{ outcome: RestoreOutcome; kind: RestoreMetricKind; count: number }[]>;
  /** Told about a source that failed; its metrics are then left out of this scrape. */
  onSourceError?: (source: string, err: unknown) => void;
}

export class Metrics {
  readonly registry: Registry;
  private readonly lastSuccess: Gauge<'volume'>;
  private readonly lastSize: Gauge<'volume'>;
  private readonly lastDuration: Gauge<'volume'>;
  private readonly failures: Counter<'kind'>;
  private readonly restores: Counter<'outcome' | 'kind'>;
  private readonly queueJobs: Gauge<'queue' | 'state'>;
  private readonly freeBytes: Gauge;
  private readonly freeBytesName: string;
  private readonly sourceUp: Gauge<'source'>;

  constructor(opts: { prefix?: string } = {}) {
    const p = opts.prefix ?? 'oob_backup_';
    const registry = new Registry();
    this.registry = registry;
    const reg = [registry];
    this.lastSuccess = new Gauge({
      name: `${p}last_success_timestamp_seconds`,
      help: 'Completion time of the newest archive of the volume (Unix seconds)',
      labelNames: ['volume'],
      registers: reg,
    });
    this.lastSize = new Gauge({ name: `${p}last_archive_size_bytes`, help: 'Size of the newest archive of the volume', labelNames: ['volume'], registers: reg });
    this.lastDuration = new Gauge({
      name: `${p}last_archive_duration_seconds`,
      help: 'How long the newest archive of the volume took to write (absent when it has no manifest)',
      labelNames: ['volume'],
      registers: reg,
    });
    this.failures = new Counter({ name: `${p}job_failures_total`, help: 'Jobs that failed for good, by kind', labelNames: ['kind'], registers: reg });
    this.restores = new Counter({ name: `${p}restores_total`, help: 'Finished restores by outcome and kind', labelNames: ['outcome', 'kind'], registers: reg });
    this.queueJobs = new Gauge({ name: `${p}queue_jobs`, help: 'Jobs per queue and state', labelNames: ['queue', 'state'], registers: reg });
    // Registered only once known: an unlabelled gauge would otherwise read 0, i.e. "disk full".
    this.freeBytesName = `${p}backup_dir_free_bytes`;
    this.freeBytes = new Gauge({ name: this.freeBytesName, help: 'Free bytes in BACKUP_DIR for an unprivileged writer', registers: [] });
    this.sourceUp = new Gauge({
      name: `${p}metrics_source_up`,
      help: 'Whether the source could be read at this scrape (1) or not (0; its metrics are missing)',
      labelNames: ['source'],
      registers: reg,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  archiveSucceeded(volume: string, sizeBytes: number, durationMs: number | null, at: Date): void {
    this.lastSuccess.set({ volume }, at.getTime() / 1000);
    this.lastSize.set({ volume }, sizeBytes);
    if (durationMs === null) this.lastDuration.remove({ volume });
    else this.lastDuration.set({ volume }, durationMs / 1000);
  }

  jobFailed(kind: string, count = 1): void {
    this.failures.inc({ kind }, count);
  }

  restoreFinished(outcome: RestoreOutcome, kind: RestoreMetricKind, count = 1): void {
    this.restores.inc({ outcome, kind }, count);
  }

  /** Reads every given source (in parallel, each failure isolated) and returns the text exposition. */
  async render(collect: ScrapeSources): Promise<string> {
    const step = async <T>(source: string, read: (() => Promise<T>) | undefined, apply: (v: T) => void, clear: () => void) => {
      if (!read) return;
      try {
        const value = await read();
        clear();
        apply(value);
        this.sourceUp.set({ source }, 1);
      } catch (err) {
        clear();
        this.sourceUp.set({ source }, 0);
        collect.onSourceError?.(source, err);
      }
    };
    await Promise.all([
      step(
        'queues',
        collect.queueCounts,
        (counts) => {
          for (const [queue, states] of Object.entries(counts)) {
            for (const [state, n] of Object.entries(states)) this.queueJobs.set({ queue, state }, n);
          }
        },
        () => this.queueJobs.reset(),
      ),
      step(
        'backup_dir_free',
        collect.backupDirFreeBytes,
        (n) => {
          this.freeBytes.set(n);
          this.registry.registerMetric(this.freeBytes);
        },
        () => this.registry.removeSingleMetric(this.freeBytesName),
      ),
      step(
        'backup_dir',
        collect.lastArchives,
        (last) => {
          for (const a of Object.values(last)) this.archiveSucceeded(a.volume, a.sizeBytes, a.durationMs, a.at);
        },
        () => {
          this.lastSuccess.reset();
          this.lastSize.reset();
          this.lastDuration.reset();
        },
      ),
      step(
        'job_failures',
        collect.jobFailures,
        (byKind) => {
          for (const [kind, n] of Object.entries(byKind)) this.jobFailed(kind, n);
        },
        () => this.failures.reset(),
      ),
      step(
        'restores',
        collect.restoreOutcomes,
        (rows) => {
          for (const r of rows) this.restoreFinished(r.outcome, r.kind, r.count);
        },
        () => this.restores.reset(),
      ),
    ]);
    return this.registry.metrics();
  }
}

// ---------------------------------------------------------------------------------------------
// BACKUP_DIR: newest archive per volume
// ---------------------------------------------------------------------------------------------

/**
 * The newest archive of each volume (and of each dump name), by the stamp in its name, with what
 * its manifest says. Reads the directory listing, then only the one archive per volume it reports
 * (the next older one if that vanished meanwhile). Keyed and ordered by volume name.
 */
export async function lastArchivesByVolume(store: BackupStore): Promise<Record<string, LastArchive>> {
  const byVolume = new Map<string, ArchiveName[]>();
  for (const name of await store.readDirNames()) {
    const a = parseArchiveName(name);
    if (!a) continue;
    const list = byVolume.get(a.volume) ?? [];
    list.push(a);
    byVolume.set(a.volume, list);
  }
  const result: Record<string, LastArchive> = {};
  for (const volume of [...byVolume.keys()].sort()) {
    const candidates = byVolume.get(volume)!.sort((x, y) => (x.stamp < y.stamp ? 1 : x.stamp > y.stamp ? -1 : 0));
    for (const a of candidates) {
      const found = await describeArchive(store.dir, a);
      if (found) {
        result[volume] = found;
        break;
      }
    }
  }
  return result;
}

async function describeArchive(dir: string, a: ArchiveName): Promise<LastArchive | undefined> {
  const file = path.join(dir, a.file);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  const base = { volume: a.volume, kind: a.kind, file: a.file, stamp: a.stamp };
  const manifest = await readManifest(`${file}.manifest.json`);
  if (manifest) {
    return {
      ...base,
      sizeBytes: manifest.size ?? stat.size,
      durationMs: manifest.durationMs ?? null,
      at: manifest.createdAt ?? stat.mtime,
      source: 'manifest',
    };
  }
  return { ...base, sizeBytes: stat.size, durationMs: null, at: stat.mtime, source: 'file' };
}

/** The fields we use, each only when present and sane; undefined when there is no readable manifest. */
async function readManifest(file: string): Promise<{ size?: number; durationMs?: number; createdAt?: Date } | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const nonNegative = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const created = typeof m.createdAt === 'string' ? new Date(m.createdAt) : undefined;
  return {
    size: nonNegative(m.size),
    durationMs: nonNegative(m.durationMs),
    createdAt: created && !Number.isNaN(created.getTime()) ? created : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Redis: monotonic totals of finished jobs
// ---------------------------------------------------------------------------------------------

/** How far back each count looks again for jobs that landed late in their finished set. */
export const COUNT_LOOKBACK_MS = 10 * 60_000;

/**
 * KEYS[1] a BullMQ finished set (zset jobId -> finishedOn), KEYS[2] our state hash.
 * ARGV[1] lookback ms; ARGV[2] how to label each job: '' (not at all), 'name' (its job name) or
 * 'restore' (the kind of its restore request); ARGV[3] the queue's job key prefix; ARGV[4] the
 * restore request key prefix. Counts every (finishedOn, jobId) not counted before into `total` and,
 * when labelling, into `label:<label>`. Returns the state hash as HGETALL does.
 */
const COUNT_FINISHED_LUA = `
local lookback = tonumber(ARGV[1])
local mode = ARGV[2]
local state = redis.call('HMGET', KEYS[2], 'wm', 'recent')
local wm = nil
if state[1] then wm = tonumber(state[1]) end
local recent = {}
if state[2] then
  for _, k in ipairs(cjson.decode(state[2])) do recent[k] = true end
end
local entries
if wm then
  entries = redis.call('ZRANGEBYSCORE', KEYS[1], wm - lookback, '+inf', 'WITHSCORES')
else
  entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
end
local function label(id)
  if mode == 'name' then
    local name = redis.call('HGET', ARGV[3] .. id, 'name')
    if name then return name end
    return 'unknown'
  end
  local data = redis.call('HGET', ARGV[3] .. id, 'data')
  if not data then return 'unknown' end
  local restoreId = cjson.decode(data).restoreId
  if type(restoreId) ~= 'string' then return 'unknown' end
  local record = redis.call('GET', ARGV[4] .. restoreId)
  if not record then return 'unknown' end
  local kind = cjson.decode(record).kind
  if kind == 'set' or kind == 'sql' then return kind end
  return 'unknown'
end
local added = 0
local newest = wm
for i = 1, #entries, 2 do
  local id = entries[i]
  local score = entries[i + 1]
  local key = score .. '|' .. id
  if not recent[key] then
    recent[key] = true
    added = added + 1
    if mode ~= '' then
      local ok, l = pcall(label, id)
      if not ok then l = 'unknown' end
      redis.call('HINCRBY', KEYS[2], 'label:' .. l, 1)
    end
  end
  local n = tonumber(score)
  if newest == nil or n > newest then newest = n end
end
redis.call('HINCRBY', KEYS[2], 'total', added)
if newest ~= nil then
  local kept = {}
  for k in pairs(recent) do
    local s = tonumber(string.match(k, '^([^|]+)|'))
    if s and s >= newest - lookback then table.insert(kept, k) end
  end
  local encoded = '[]'
  if #kept > 0 then encoded = cjson.encode(kept) end
  redis.call('HSET', KEYS[2], 'wm', string.format('%.17g', newest), 'recent', encoded)
end
return redis.call('HGETALL', KEYS[2])
`;

/** Restore requests are stored under this key (see RestoreRequests in restore-requests.ts). */
function restoreRecordPrefix(prefix: string): string {
  return `${prefix}:oob-restore:`;
}

interface FinishedCount {
  total: number;
  byLabel: Record<string, number>;
}

/** Counts the jobs of one finished set of one queue not counted before; returns the new totals. */
export async function countFinished(
  redis: Redis,
  prefix: string,
  queue: Queue,
  state: RestoreOutcome,
  labelBy: '' | 'name' | 'restore',
): Promise<FinishedCount> {
  const reply = (await redis.eval(
    COUNT_FINISHED_LUA,
    2,
    queue.toKey(state),
    `${prefix}:oob-metrics:${queue.name}:${state}`,
    String(COUNT_LOOKBACK_MS),
    labelBy,
    `${queue.qualifiedName}:`,
    restoreRecordPrefix(prefix),
  )) as string[] | Record<string, string>;
  // A flat array under RESP2 (what createRedis uses), a map under RESP3.
  const pairs: [string, string][] = [];
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), String(reply[i + 1])]);
  else for (const [k, v] of Object.entries(reply)) pairs.push([k, String(v)]);
  const result: FinishedCount = { total: 0, byLabel: {} };
  for (const [field, raw] of pairs) {
    const value = Number(raw);
    if (field === 'total') result.total = value;
    else if (field.startsWith('label:')) result.byLabel[field.slice('label:'.length)] = value;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// What GET /metrics serves
// ---------------------------------------------------------------------------------------------

export type MetricsDeps = Pick<AppContext, 'config' | 'queues' | 'store' | 'redis' | 'logger'>;

/** The scrape-time sources of one installation: BACKUP_DIR and its queues in Redis. */
export function scrapeSources(ctx: MetricsDeps): ScrapeSources {
  const prefix = ctx.config.queuePrefix;
  const log = ctx.logger.child({ module: 'metrics' });
  const queues = QUEUE_NAMES.map((name) => ({ name, queue: ctx.queues[name] }));
  const restoreCount = (outcome: RestoreOutcome) => countFinished(ctx.redis, prefix, ctx.queues.restore, outcome, 'restore');
  return {
    async queueCounts() {
      const rows = await Promise.all(queues.map(async ({ name, queue }) => [name, await queue.getJobCounts(...QUEUE_STATES)] as const));
      return Object.fromEntries(rows);
    },
    backupDirFreeBytes: () => freeBytes(ctx.config.backupDir),
    lastArchives: () => lastArchivesByVolume(ctx.store),
    async jobFailures() {
      const byKind: Record<string, number> = { run: 0 };
      const add = (kind: string, n: number) => (byKind[kind] = (byKind[kind] ?? 0) + n);
      await Promise.all(
        queues.map(async ({ name, queue }) => {
          if (name === 'restore') {
            add('restore', (await restoreCount('failed')).total);
          } else if (name === 'schedule') {
            const counted = await countFinished(ctx.redis, prefix, queue, 'failed', 'name');
            for (const [jobName, n] of Object.entries(counted.byLabel)) add(failureKind(name, jobName), n);
          } else {
            add(name, (await countFinished(ctx.redis, prefix, queue, 'failed', '')).total);
          }
        }),
      );
      return byKind;
    },
    async restoreOutcomes() {
      const rows: { outcome: RestoreOutcome; kind: RestoreMetricKind; count: number }[] = [];
      for (const outcome of ['completed', 'failed'] as const) {
        const { byLabel } = await restoreCount(outcome);
        // Always show set and sql, so the first restore is an increase from 0, not a new series.
        for (const kind of ['set', 'sql'] as const) rows.push({ outcome, kind, count: byLabel[kind] ?? 0 });
        if (byLabel.unknown) rows.push({ outcome, kind: 'unknown', count: byLabel.unknown });
      }
      return rows;
    },
    onSourceError: (source, err) => log.warn({ source, err: (err as Error).message }, 'metrics source failed'),
  };
}

/** The text for GET /metrics (content type: METRICS_CONTENT_TYPE). */
export async function metricsText(ctx: MetricsDeps): Promise<string> {
  return new Metrics().render(scrapeSources(ctx));
}

export const METRICS_CONTENT_TYPE = new Registry().contentType;

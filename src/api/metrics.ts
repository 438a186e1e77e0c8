/**
 * The Prometheus metrics of GET /metrics, in their own prom-client Registry (never the global one, so
 * tests and several contexts in one process cannot mix their series). `render` fills them from the
 * scrape-time sources (metrics-sources.ts) and returns the text exposition.
 *
 * The event methods (archiveSucceeded, jobFailed, restoreFinished) set the same metrics from
 * memory; `render` replaces those from every source it is given, which is how metricsText uses
 * them. They are there for a process that wants to push its own numbers without Redis (tests).
 *
 * No authentication on /metrics: like /healthz it is for the monitoring system, and Prometheus
 * scrapers are often configured without secrets. What it exposes is deliberately non-sensitive:
 * volume names, archive sizes, durations and timestamps, job counts per queue, off-site targets as
 * `remote:path` (names from OFFSITE_TARGETS; credentials live in rclone's config). No file paths, no
 * patient data, no error messages, no job data, no host names, no configuration.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { LastArchive } from '../stores/last-archives.js';

/** How a restore job ended (the BullMQ finished set it landed in). */
export type RestoreOutcome = 'completed' | 'failed';
/** `unknown`: the restore request was gone when its job was first counted (metrics off for > 30 days). */
export type RestoreMetricKind = 'set' | 'sql' | 'files' | 'unknown';

/** Where render() gets its numbers; each source is optional except the queue counts. */
export interface ScrapeSources {
  queueCounts: () => Promise<Record<string, Record<string, number>>>;
  backupDirFreeBytes?: () => Promise<number>;
  /** Replaces the per-volume gauges set by archiveSucceeded. */
  lastArchives?: () => Promise<Record<string, LastArchive>>;
  /** Per volume and off-site target, when its newest copy was made (Unix ms). */
  lastCopies?: () => Promise<{ volume: string; target: string; at: number }[]>;
  /** Total failed jobs by kind; replaces what jobFailed counted. */
  jobFailures?: () => Promise<Record<string, number>>;
  /** Total finished restores; replaces what restoreFinished counted. */
  restoreOutcomes?: () => Promise<{ outcome: RestoreOutcome; kind: RestoreMetricKind; count: number }[]>;
  /** Told about a source that failed; its metrics are then left out of this scrape. */
  onSourceError?: (source: string, err: unknown) => void;
}

/** One registry with the service's metrics; build one per scrape. */
export class Metrics {
  readonly registry: Registry;
  private readonly lastSuccess: Gauge<'volume'>;
  private readonly lastSize: Gauge<'volume'>;
  private readonly lastDuration: Gauge<'volume'>;
  private readonly lastCopy: Gauge<'volume' | 'target'>;
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
    this.lastCopy = new Gauge({
      name: `${p}offsite_last_copy_timestamp_seconds`,
      help: 'When the newest verified off-site copy of the volume reached the target (rclone remote:path; Unix seconds)',
      labelNames: ['volume', 'target'],
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
        'offsite_copies',
        collect.lastCopies,
        (rows) => {
          for (const r of rows) this.lastCopy.set({ volume: r.volume, target: r.target }, r.at / 1000);
        },
        () => this.lastCopy.reset(),
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

export const METRICS_CONTENT_TYPE = new Registry().contentType;

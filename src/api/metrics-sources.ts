/**
 * What GET /metrics serves, and where the numbers come from. The API and the workers are separate
 * processes, and there may be several API replicas, so nothing that /metrics reports may live only
 * in one process's memory. Every value is derived at scrape time from the two places all processes
 * share:
 * - BACKUP_DIR: per volume the newest archive gives the "last success" gauges (last-archives.ts),
 *   and its file system the free space;
 * - Redis: job counts per queue and state from BullMQ; failure and restore counters from totals of
 *   BullMQ's finished-job sets kept in Redis (finished-job-totals.ts).
 * A fresh Metrics (and Registry) is built per scrape, so a volume whose archives are gone simply
 * disappears, and no replica can hold a stale series.
 * Kinds of failures: the queue's name, except the `schedule` queue, whose `run` and `verify-newest`
 * ticks count as `run` and `verify`.
 */
import { failureKind } from '../core/job-kinds.js';
import { freeBytes } from '../engine/fs/free-space.js';
import type { AppContext } from '../runtime/context.js';
import { countFinished } from '../stores/finished-job-totals.js';
import { lastArchivesByVolume } from '../stores/last-archives.js';
import { QUEUE_NAMES } from '../stores/queues.js';
import { Metrics, type RestoreMetricKind, type RestoreOutcome, type ScrapeSources } from './metrics.js';

/** States reported by `oob_backup_queue_jobs`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export type MetricsDeps = Pick<AppContext, 'config' | 'queues' | 'store' | 'redis' | 'logger' | 'copies'>;

/** The newest recorded copy per volume and target, among the archives still in BACKUP_DIR. */
async function lastCopies(ctx: MetricsDeps): Promise<{ volume: string; target: string; at: number }[]> {
  const archives = await ctx.store.listArchives({ shared: true });
  const records = await ctx.copies.forFiles(archives.map((a) => a.file));
  const newest = new Map<string, { volume: string; target: string; at: number }>();
  for (const a of archives) {
    for (const r of records.get(a.file) ?? []) {
      const at = Date.parse(r.copiedAt);
      const key = `${a.volume}\u0000${r.target}`;
      if ((newest.get(key)?.at ?? -Infinity) < at) newest.set(key, { volume: a.volume, target: r.target, at });
    }
  }
  return [...newest.values()];
}

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
    ...(ctx.config.offsite ? { lastCopies: () => lastCopies(ctx) } : {}),
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
        // Always show every kind, so the first restore is an increase from 0, not a new series.
        for (const kind of ['set', 'sql', 'files'] as const) rows.push({ outcome, kind, count: byLabel[kind] ?? 0 });
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

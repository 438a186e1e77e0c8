/**
 * jobs/ — the worker side: one processor per job kind (*-job.ts), each reading top to bottom as the
 * steps it orchestrates (lock, guard, engine call, sidecars, alert), the steps they share (space
 * guard, size drop, catch-up, overdue check, recovery, maintenance), and this wiring. May import:
 * runtime/, stores/, db/, engine/, core/. May not import: api/ (checked by `npm run lint`).
 *
 * Registers one processor per queue and starts the BullMQ workers. The boot check refuses to start
 * when a queue has no processor (or a processor no queue), so a renamed queue cannot silently leave
 * jobs waiting forever.
 */
import { Worker, type Processor } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { QUEUE_NAMES, type QueueName } from '../stores/queues.js';
import { within } from '../runtime/boot.js';
import { rateLimitedWarn } from '../runtime/logger.js';
import { createRedis } from '../stores/redis.js';
import { canNudgeGc, releaseFreedMemory } from '../engine/gzip/gc-nudge.js';
import { chooseInflateEngine, inflateEngine } from '../engine/gzip/libdeflate.js';
import { fileTimesEngine } from '../engine/fs/file-times.js';
import { alertBackoff, makeAlertProcessor } from './alert-job.js';
import { attachAlerts } from './alerts.js';
import { makeArchiveProcessor } from './archive-job.js';
import { makeCopyProcessor, probeTargets } from './copy-job.js';
import { catchUpMissedRun } from './catch-up.js';
import { makeDumpProcessor } from './dump-job.js';
import { startOverdueChecks } from './overdue-check.js';
import { makeScheduleProcessor } from './schedule-job.js';
import { makeVerifyProcessor } from './verify-job.js';
import { makePruneProcessor } from './prune-job.js';
import { startMaintenance } from './maintenance.js';
import { rebuildCopyRecords } from './copy-rebuild.js';
import { recoverAtBoot } from './recovery.js';
import { makeRestoreProcessor, type WorkerKey } from './restore-job.js';
import { announceWorkerKey } from './worker-key.js';

export interface RunningWorkers {
  workers: Worker[];
  /** Defaults to SHUTDOWN_TIMEOUT. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Stalled-job detection, i.e. what happens when a worker dies (kill -9, OOM, power) mid-job:
 * - A worker renews the lock of each job it runs every `lockDuration`/2 (LOCK_DURATION, default 60 s).
 * - Every `stalledInterval` (STALLED_INTERVAL, default 30 s) some worker marks the active jobs, and at
 *   the next check moves those whose lock has expired back to waiting, where any live worker picks
 *   them up. So a killed worker's job runs again at most lockDuration + stalledInterval (90 s) later.
 * - The volume lock of a killed archive expires after VOLUME_LOCK_TTL (default 60 s ≤ 90 s), so
 *   the retry rarely waits for it (see ../lib/volume-lock.ts for why it must not take it over).
 * - Twice is tolerated before the job fails (`maxStalledCount`), since a kill during an archive is
 *   not the archive's fault; a stall does not spend one of ARCHIVE_ATTEMPTS.
 * - Except for restores: a stalled restore fails at once (maxStalledCount 0). Its first attempt
 *   may still be writing (only cut off from Redis), and a restore must never run twice; the
 *   recovery (./recovery.ts) rolls its swap back or forward once its locks have expired.
 * Why not shorter: a live worker that cannot renew within lockDuration (an event loop stuck behind
 * a slow NFS mount, a Redis failover) would see its job handed to a second worker while it still
 * runs. For nightly backups a minute more after a real crash costs nothing; double work does.
 */
export function workerTiming(config: Pick<AppContext['config'], 'jobLockMs' | 'stalledIntervalMs'>, queue?: QueueName) {
  return { lockDuration: config.jobLockMs, stalledInterval: config.stalledIntervalMs, maxStalledCount: queue === 'restore' ? 0 : 2 };
}

/**
 * Queues whose jobs move a volume's data through Buffers: after each of their jobs the worker gives
 * the freed memory back (releaseFreedMemory, gc-nudge.ts), so that the next job starts from the
 * worker's idle size instead of on top of what glibc kept of the last one. (Another job of this
 * worker may still run meanwhile: it waits the collection's few milliseconds, nothing more.)
 */
const DATA_QUEUES: ReadonlySet<QueueName> = new Set(['archive', 'dump', 'verify', 'copy', 'restore']);

/** Webhook deliveries one worker process makes at once. */
const ALERT_CONCURRENCY = 4;

/** After SHUTDOWN_TIMEOUT and the hand-back, how long close() still waits for jobs to let go. */
const HAND_BACK_MS = 5000;

export function processorsFor(ctx: AppContext, workerKey?: WorkerKey): Record<QueueName, Processor> {
  return {
    schedule: makeScheduleProcessor(ctx) as Processor,
    archive: makeArchiveProcessor(ctx) as Processor,
    dump: makeDumpProcessor(ctx) as Processor,
    verify: makeVerifyProcessor(ctx) as Processor,
    prune: makePruneProcessor(ctx) as Processor,
    copy: makeCopyProcessor(ctx) as Processor,
    restore: makeRestoreProcessor(ctx, workerKey) as Processor,
    alerts: makeAlertProcessor({ urls: ctx.config.notify.webhookUrls, logger: ctx.logger.child({ module: 'notifier' }) }) as Processor,
  };
}

const mib = (bytes: number) => Math.round(bytes / 1048576);

export function checkProcessors(processors: Record<string, Processor>): void {
  const missing = QUEUE_NAMES.filter((q) => typeof processors[q] !== 'function');
  const extra = Object.keys(processors).filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
  if (missing.length || extra.length) {
    throw new Error(`worker boot check failed: no processor for [${missing}], processor without queue [${extra}]`);
  }
}

export async function startWorkers(ctx: AppContext): Promise<RunningWorkers> {
  const log = ctx.logger.child({ module: 'workers' });
  // First: a worker that must not run (GZIP_INFLATE=libdeflate without the binding) leaves no trace in Redis.
  chooseInflateEngine(ctx.config.gzipInflate);
  const workerKey = await announceWorkerKey(ctx, log);
  const processors = processorsFor(ctx, workerKey);
  checkProcessors(processors);
  const inflater = inflateEngine();
  if (inflater.name === 'libdeflate') log.info({ libdeflate: inflater.version }, 'archives are inflated by libdeflate');
  else if (ctx.config.gzipInflate === 'auto') log.warn({ why: inflater.why }, 'archives are inflated by zlib, about half as fast as libdeflate (README "Quick start")');
  const times = fileTimesEngine();
  if (!times.exact) log.warn({ why: times.why }, 'restores set file times to the millisecond, not to the nanosecond as GNU tar does (README "Exactness")');
  if (!canNudgeGc()) log.warn('node was started without --expose-gc: archives and restores may take ~40 MB more memory (see gc-nudge.ts)');
  if ((await recoverAtBoot(ctx)) === 'busy') log.info('an interrupted restore waits for its locks to expire; recovered by the maintenance check');
  await catchUpMissedRun(ctx).catch((err: Error) => log.error({ err: err.message }, 'catch-up check failed'));
  const stopOverdueChecks = startOverdueChecks(ctx);
  const stopMaintenance = startMaintenance(ctx);
  probeTargets(ctx);
  // Not waiting for the first maintenance (a minute): a worker started on an emptied Redis rebuilds at once.
  void rebuildCopyRecords(ctx).catch((err: Error) => log.warn({ err: err.message }, 'could not rebuild the off-site copy records'));
  const connections = QUEUE_NAMES.map(() => createRedis(ctx.redisUrl, {}, ctx.config.redisTlsCaFile));
  const workers = QUEUE_NAMES.map((name, i) => {
    const worker = new Worker(name, processors[name], {
      connection: connections[i]!,
      prefix: ctx.config.queuePrefix,
      // One run fan-out and one restore at a time per process; restores are also serialised
      // across processes by the restore hold. Alerts: a few at once, so one receiver that takes its
      // full timeout does not hold up the others.
      concurrency: name === 'schedule' || name === 'restore' ? 1 : name === 'alerts' ? ALERT_CONCURRENCY : ctx.config.workerConcurrency,
      ...workerTiming(ctx.config, name),
      ...(name === 'alerts' ? { settings: { backoffStrategy: alertBackoff({ baseDelayMs: ctx.config.notify.retryDelayMs }) } } : {}),
    });
    if (name === 'alerts') {
      // The alert processor logs its own outcomes, and an alert about an alert could only go to the
      // same receivers.
    } else {
      worker.on('failed', (job, err) =>
        log.error({ queue: name, jobId: job?.id, volume: job?.data?.volume, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
      );
      attachAlerts(ctx, name, worker);
    }
    if (DATA_QUEUES.has(name)) {
      const release = (job: { id?: string } | undefined) =>
        void releaseFreedMemory().then(
          (m) => log.info({ queue: name, jobId: job?.id, rssMiB: mib(m.rssBefore), rssAfterMiB: mib(m.rssAfter), trimmed: m.trimmed }, 'freed memory given back after the job'),
          (err: Error) => log.warn({ queue: name, err: err.message }, 'giving freed memory back failed'),
        );
      worker.on('completed', release);
      worker.on('failed', release);
    }
    const warn = rateLimitedWarn(log, 'worker error (Redis unreachable?)');
    worker.on('error', (err) => warn(err, { queue: name }));
    worker.on('stalled', (jobId) => log.warn({ queue: name, jobId }, 'job stalled (its worker died or lost Redis); moved back to waiting'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: QUEUE_NAMES, concurrency: ctx.config.workerConcurrency }, 'workers started');
  return {
    workers,
    /**
     * Graceful stop within `timeoutMs` (SHUTDOWN_TIMEOUT): stop fetching and let running jobs finish
     * (BullMQ's close() waits for them and keeps renewing their locks meanwhile). When that takes
     * longer, every processor that takes BullMQ's abort signal (the archive job) is cancelled: it
     * stops, removes its .partial and moves its job back to the head of the waiting list, spending
     * no attempt, so the next worker starts it at once. A job that still runs after HAND_BACK_MS
     * (a restore is never interrupted on purpose) is given up on: we drop our connections, the
     * process exits, and its lock expires, so stalled-job detection hands it to another worker, as
     * after a kill (a restore is failed instead, and its swap recovered: see ./recovery.ts). That
     * is what `worker.close(true)` does too (it only skips the wait; it neither moves the job back
     * nor fails it), but close(true) cannot be used here: once close() is
     * running, BullMQ returns that same pending promise for every later close(), forced or not.
     */
    async close(timeoutMs = ctx.config.shutdownTimeoutMs) {
      stopOverdueChecks();
      stopMaintenance();
      await workerKey?.withdraw();
      const closing = Promise.all(workers.map((w) => w.close()));
      let outcome = await within(closing, timeoutMs);
      if (outcome === 'timeout') {
        log.warn({ timeoutMs }, 'jobs still running at the shutdown timeout: handing them back to the queue');
        for (const w of workers) w.cancelAllJobs('shutdown');
        outcome = await within(closing, HAND_BACK_MS);
      }
      if (outcome === 'timeout') {
        log.warn('a job is still running; leaving it to stalled-job detection (it runs again on another worker; a restore fails and is rolled back)');
        for (const c of connections) c.disconnect();
        return;
      }
      // BullMQ leaves connections it was handed open. quit() waits for Redis, which may be away.
      await Promise.all(connections.map(async (c) => {
        if ((await within(c.quit(), 2000).catch(() => 'timeout')) === 'timeout') c.disconnect();
      }));
    },
  };
}

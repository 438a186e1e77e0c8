/**
 * The scheduler's run job: turn one tick into one backup set. The stamp comes from the tick's
 * scheduled time, not the clock: BullMQ may start the delayed job a few ms before the minute.
 */
import { DelayedError, type Job } from 'bullmq';
import type { AppContext } from '../context.js';
import { formatStamp } from '../core/names.js';
import { RunConflictError, startRun, type RunJobs } from '../lib/backup-runs.js';
import { RESTORE_HOLD, type RunJobData } from '../lib/queues.js';
import { listVolumes } from '../lib/volumes.js';

const HOLD_RETRY_MS = 15_000;

export type RunResult = RunJobs | { skipped: true; stamp: string; reason: string };

export function makeRunProcessor(ctx: AppContext) {
  const log = ctx.logger.child({ module: 'run' });
  return async (job: Job<RunJobData>, token?: string): Promise<RunResult> => {
    const stamp = formatStamp(scheduledTime(job), ctx.config.timezone);
    const restoring = await ctx.restoreHold.holder(RESTORE_HOLD);
    if (restoring) {
      // The stamp stays the scheduled minute; the run just starts after the restore.
      log.info({ stamp, restore: restoring }, 'restore in progress: scheduled run waits');
      await job.moveToDelayed(Date.now() + HOLD_RETRY_MS, token);
      throw new DelayedError();
    }
    const { volumes, skipped } = await listVolumes(ctx.config.volumes);
    if (skipped.length > 0) log.warn({ skipped }, 'directories skipped: not valid volume names');
    if (Object.keys(volumes).length === 0) {
      throw new Error(`no volumes to back up: ${describeSource(ctx)} holds no volume directory`);
    }
    const { keep } = await ctx.schedules.get();
    try {
      const run = await startRun(
        { redis: ctx.redis, prefix: ctx.config.queuePrefix, queues: ctx.queues, store: ctx.store, archiveAttempts: ctx.config.archiveAttempts },
        { stamp, volumes, keep, trigger: job.data.trigger ?? 'schedule', owner: `job-${job.id}`, dumpName: ctx.config.db?.dumpName },
      );
      log.info({ stamp, volumes: Object.keys(volumes), trigger: job.data.trigger }, 'backup run started');
      return run;
    } catch (err) {
      if (!(err instanceof RunConflictError)) throw err;
      // Someone pressed "run now" in this very minute: that set is this tick's set.
      log.info({ stamp }, 'backup run skipped: a set for this minute exists already');
      return { skipped: true, stamp, reason: err.message };
    }
  };
}

/**
 * When the scheduler meant this job to run. BullMQ 6.7 encodes it in the job id
 * (`repeat:<scheduler>:<millis>`); the stored opts do not keep `prevMillis`, and `delay` reads 0.
 */
export function scheduledTime(job: Job): Date {
  const fromId = /^repeat:.*:(\d+)$/.exec(job.id ?? '');
  if (fromId) return new Date(Number(fromId[1]));
  const prev = (job.opts as { prevMillis?: number }).prevMillis;
  if (typeof prev === 'number' && prev > 0) return new Date(prev);
  return new Date(job.timestamp);
}

function describeSource(ctx: AppContext): string {
  const v = ctx.config.volumes;
  return v.kind === 'dir' ? `VOLUMES_DIR ${v.dir}` : 'VOLUMES';
}

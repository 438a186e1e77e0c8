/**
 * The scheduler's run job: turn one tick into one backup set. On time, the stamp comes from the
 * tick's scheduled time, not the clock: BullMQ may start the delayed job a few ms before the
 * minute. A job that starts in a later minute (overdue after the machine was off, held back by a
 * restore) is a catch-up: stamped with the minute it runs, the tick recorded as `catchUpFor`
 * (../core/run-stamp.ts), and only if CATCH_UP is on.
 */
import { DelayedError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { previousRun, toCronPattern } from '../core/cron.js';
import { formatStamp } from '../core/names.js';
import { runStamp } from '../core/run-stamp.js';
import { claimTick, RunConflictError, startRun, type RunJobs } from '../stores/backup-runs.js';
import { RESTORE_HOLD, type RunJobData } from '../stores/queues.js';
import { lockOwnerJob } from '../stores/volume-lock.js';
import { listVolumes } from '../engine/fs/volumes.js';
import { startCatchUpRun } from './catch-up.js';

const HOLD_RETRY_MS = 15_000;

export type RunResult = RunJobs | { skipped: true; stamp?: string; reason: string };

export function makeRunProcessor(ctx: AppContext) {
  const log = ctx.logger.child({ module: 'run' });
  return async (job: Job<RunJobData>, token?: string): Promise<RunResult> => {
    const now = ctx.clock.now();
    const { stamp, catchUpFor } = runStamp(scheduledTime(job), now, ctx.config.timezone);
    const restoring = await ctx.restoreHold.holder(RESTORE_HOLD);
    if (restoring) {
      // The run starts after the restore; stamped then with the minute it runs (a catch-up).
      log.info({ tick: catchUpFor ?? stamp, restore: lockOwnerJob(restoring) }, 'restore in progress: scheduled run waits');
      await job.moveToDelayed(Date.now() + HOLD_RETRY_MS, token);
      throw new DelayedError();
    }
    const { volumes, skipped } = await listVolumes(ctx.config.volumes, log);
    if (skipped.length > 0) log.warn({ skipped }, 'directories skipped: not valid volume names');
    if (Object.keys(volumes).length === 0) {
      throw new Error(`no volumes to back up: ${describeSource(ctx)} holds no volume directory`);
    }
    const schedule = await ctx.schedules.get();
    const owner = `job-${job.id}`;
    if (catchUpFor) {
      if (!ctx.config.catchUp) {
        log.warn({ tick: catchUpFor }, 'scheduled run is late and CATCH_UP is off: skipped');
        return { skipped: true, reason: `the tick ${catchUpFor} was missed and CATCH_UP is off` };
      }
      // The boot-time catch-up claims the schedule's last tick; so must we, or both would run.
      const last = schedule.enabled ? previousRun(toCronPattern(schedule), ctx.config.timezone, now) : undefined;
      const tick = last && formatStamp(last, ctx.config.timezone) > catchUpFor ? formatStamp(last, ctx.config.timezone) : catchUpFor;
      // A retry of this job (its attempt failed after the claims) must make the same set, not one
      // stamped with the retry's minute: the first attempt's stamp is kept in the job's data.
      const lateStamp = job.data.lateStamp ?? stamp;
      if (!job.data.lateStamp) await job.updateData({ ...job.data, lateStamp });
      const r = await startCatchUpRun(ctx, { tick, volumes, trigger: job.data.trigger ?? 'schedule', owner, stamp: lateStamp });
      if ('skipped' in r) log.info({ tick, reason: r.reason }, 'late scheduled run skipped');
      return r;
    }
    // On time: claim the tick too, so a catch-up starting in the next minute does not run again.
    if ((await claimTick(ctx.redis, ctx.config.queuePrefix, stamp, owner)) === 'taken') {
      log.info({ stamp }, 'backup run skipped: another run stands in for this tick already');
      return { skipped: true, stamp, reason: `another run stands in for the tick ${stamp} already` };
    }
    try {
      const run = await startRun(
        { redis: ctx.redis, prefix: ctx.config.queuePrefix, queues: ctx.queues, store: ctx.store, archiveAttempts: ctx.config.archiveAttempts },
        { stamp, volumes, trigger: job.data.trigger ?? 'schedule', owner, dumpName: ctx.config.db?.dumpName },
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

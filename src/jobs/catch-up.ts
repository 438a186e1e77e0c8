/**
 * Missed runs. When the machine was off at 03:15, the scheduler's job for that tick is overdue when
 * the workers come back, and runs late; and at start-up each worker checks whether the schedule's
 * last tick has a set, and if not starts one catch-up run. Both stand in for the same tick, so
 * both go through startCatchUpRun: a claim on the tick lets exactly one of them run, whichever
 * process comes first.
 *
 * A catch-up run holds the data of the minute it runs, not of the missed tick, so it is stamped
 * with the minute it runs; the missed tick goes into every archive's manifest as `catchUpFor` and
 * shows in the listing. A tick from before the schedule existed (a fresh install, a pattern saved
 * a minute ago) is not caught up: the first backup is at the first tick, or by "run now".
 */
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../runtime/context.js';
import { previousRun, toCronPattern } from '../core/cron.js';
import { formatStamp } from '../core/names.js';
import { claimTick, RunConflictError, startRun, type RunJobs } from '../stores/backup-runs.js';
import type { RunTrigger } from '../stores/queues.js';
import { scheduleStart } from '../stores/schedule-store.js';
import { listVolumes } from '../engine/fs/volumes.js';

export type CatchUpOutcome = RunJobs | { skipped: true; reason: string };

/** At start-up: one run for the schedule's last tick if it has no set yet. */
export async function catchUpMissedRun(ctx: AppContext, now = ctx.clock.now()): Promise<CatchUpOutcome | undefined> {
  const log = ctx.logger.child({ module: 'catch-up' });
  const schedule = await ctx.schedules.get();
  if (!ctx.config.catchUp || !schedule.enabled) return undefined;
  const missed = previousRun(toCronPattern(schedule), ctx.config.timezone, now);
  if (!missed) return undefined;
  const tick = formatStamp(missed, ctx.config.timezone);
  const since = await scheduleStart(ctx.redis, ctx.config.queuePrefix);
  if (!since || missed < since) {
    log.info({ tick, scheduleSince: since?.toISOString() ?? null }, 'no catch-up: the last tick was before the schedule existed');
    return undefined;
  }
  const newest = (await ctx.store.listSets())[0]?.stamp;
  if (newest !== undefined && newest >= tick) return undefined;
  const { volumes } = await listVolumes(ctx.config.volumes);
  if (Object.keys(volumes).length === 0) return undefined;
  return startCatchUpRun(ctx, { tick, volumes, trigger: 'catch-up', owner: `catch-up-${randomUUID()}`, now });
}

/**
 * Starts a run for a missed tick, stamped with the current minute, unless another run already
 * stands in for that tick (or the current minute has a set: then that set is the newer backup).
 */
export async function startCatchUpRun(
  ctx: AppContext,
  o: { tick: string; volumes: Record<string, string>; trigger: RunTrigger; owner: string; now?: Date; stamp?: string },
): Promise<CatchUpOutcome> {
  const log = ctx.logger.child({ module: 'catch-up' });
  if ((await claimTick(ctx.redis, ctx.config.queuePrefix, o.tick, o.owner)) === 'taken') {
    return { skipped: true, reason: `another run stands in for the missed tick ${o.tick} already` };
  }
  const stamp = o.stamp ?? formatStamp(o.now ?? ctx.clock.now(), ctx.config.timezone);
  try {
    const run = await startRun(
      { redis: ctx.redis, prefix: ctx.config.queuePrefix, queues: ctx.queues, store: ctx.store, archiveAttempts: ctx.config.archiveAttempts },
      { stamp, volumes: o.volumes, trigger: o.trigger, owner: o.owner, catchUpFor: o.tick, dumpName: ctx.config.db?.dumpName },
    );
    log.warn({ stamp, catchUpFor: o.tick, volumes: Object.keys(o.volumes), trigger: o.trigger }, 'catch-up run started for a scheduled run that was missed');
    return run;
  } catch (err) {
    if (err instanceof RunConflictError) return { skipped: true, reason: `a set for ${stamp} exists already; it is newer than the missed tick ${o.tick}` };
    throw err;
  }
}

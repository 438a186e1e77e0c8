/**
 * Missed runs: BullMQ does not back-fill a cron tick that passed while nothing ran (the machine was
 * off at 03:15). At start-up, if the last scheduled tick has no backup set, one catch-up run is
 * started for it — stamped with the missed tick's minute, so that if the scheduler's own overdue
 * job fires as well, the stamp claim lets exactly one of them through, whichever process starts.
 */
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { previousRun, toCronPattern } from '../core/cron.js';
import { formatStamp } from '../core/names.js';
import { RunConflictError, startRun, type RunJobs } from '../lib/backup-runs.js';
import { listVolumes } from '../lib/volumes.js';

export async function catchUpMissedRun(ctx: AppContext, now = new Date()): Promise<RunJobs | undefined> {
  const log = ctx.logger.child({ module: 'catch-up' });
  const schedule = await ctx.schedules.get();
  if (!ctx.config.catchUp || !schedule.enabled) return undefined;
  const missed = previousRun(toCronPattern(schedule), ctx.config.timezone, now);
  if (!missed) return undefined;
  const stamp = formatStamp(missed, ctx.config.timezone);
  const newest = (await ctx.store.listSets())[0]?.stamp;
  if (newest !== undefined && newest >= stamp) return undefined;
  const { volumes } = await listVolumes(ctx.config.volumes);
  if (Object.keys(volumes).length === 0) return undefined;
  try {
    const run = await startRun(
      { redis: ctx.redis, prefix: ctx.config.queuePrefix, queues: ctx.queues, store: ctx.store, archiveAttempts: ctx.config.archiveAttempts },
      { stamp, volumes, keep: schedule.keep, trigger: 'catch-up', owner: `catch-up-${randomUUID()}`, dumpName: ctx.config.db?.dumpName },
    );
    log.warn({ stamp, newestSet: newest ?? null, volumes: Object.keys(volumes) }, 'catch-up run started for a scheduled run that was missed');
    return run;
  } catch (err) {
    if (err instanceof RunConflictError) return undefined; // the tick ran (or is running) after all
    throw err;
  }
}

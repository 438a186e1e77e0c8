/**
 * An archive or dump job writes a set's file only for a run that was started (its stamp claimed
 * by startRun, for "run now", a scheduled or a catch-up run) and only around that run's minute.
 *
 * Why here: bull-board can add an archive job with any stamp, or retry an old one. A job stamped
 * 2099 wrote an archive that every later prune counted as the newest generation, so each night's
 * verified archive was deleted right after it was made; a retried job of a pruned run wrote today's
 * data under an old date. The processor is where the write happens, whatever queued the job.
 */
import { UnrecoverableError } from 'bullmq';
import { stampInstants } from '../core/names.js';
import type { AppContext } from '../runtime/context.js';
import { isRunClaimed } from '../stores/backup-runs.js';

/** A run's jobs may start this late after its minute (a worker down for a while, locks, retries). */
export const RUN_STALE_MS = 24 * 3600_000;
/** Clocks of API and worker processes may differ a little. */
const SKEW_MS = 2 * 60_000;

/** Whether `stamp` names a minute after now (beyond the processes' clock skew). Prune uses it too. */
export function stampInFuture(ctx: AppContext, stamp: string): boolean {
  // The earliest reading: in the hour that the end of summer time repeats, a stamp names two minutes.
  return stampInstants(stamp, ctx.config.timezone)[0]!.getTime() > ctx.clock.now().getTime() + SKEW_MS;
}

export async function checkRunClaim(ctx: AppContext, stamp: string): Promise<void> {
  const minute = stampInstants(stamp, ctx.config.timezone).at(-1)!.getTime();
  const now = ctx.clock.now().getTime();
  const refuse = (why: string) => new UnrecoverableError(`job data refused, nothing was done: ${why}`);
  if (stampInFuture(ctx, stamp)) throw refuse(`stamp ${stamp} lies in the future`);
  if (minute < now - RUN_STALE_MS) throw refuse(`stamp ${stamp} is more than a day past: a run that old is over (the next run makes a new set)`);
  if (!(await isRunClaimed(ctx.redis, ctx.config.queuePrefix, stamp))) throw refuse(`no backup run was started for ${stamp} (added by hand?)`);
}

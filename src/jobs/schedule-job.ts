/**
 * The `schedule` queue carries the jobs of both schedulers: `run` (a backup run per tick) and
 * `verify-newest` (re-read the newest set). One processor per queue, dispatching on the job name.
 */
import type { Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { enqueueSetVerification } from '../stores/verify-runs.js';
import { makeRunProcessor } from './run-job.js';

export function makeScheduleProcessor(ctx: AppContext) {
  const run = makeRunProcessor(ctx);
  const log = ctx.logger.child({ module: 'verify-schedule' });
  return async (job: Job, token?: string): Promise<unknown> => {
    if (job.name === 'run') return run(job, token);
    if (job.name === 'verify-newest') {
      // A set of safety backups only (a restore's, since the last run) is no backup of the schedule:
      // verifying it instead left the newest run's set, and its off-site copies, unchecked that week.
      const newest = (await ctx.store.listSets()).find((s) => !s.archives.every((a) => a.safetyFor !== null));
      if (!newest) return { skipped: true, reason: 'no backup set to verify' };
      const jobs = await enqueueSetVerification(ctx.queues, newest);
      log.info({ stamp: newest.stamp, archives: jobs.length }, 'verification of the newest set queued');
      return { stamp: newest.stamp, jobs };
    }
    throw new Error(`no handler for schedule job "${job.name}"`);
  };
}

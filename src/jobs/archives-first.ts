/**
 * Archives first: within a run, a verify job waits while archives or dumps are still queued or
 * running. On two cores a verification (gunzip, sha256, GNU tar's listing) beside the next volume's
 * archive takes half the CPU that archive's parallel gzip would use, so the live volumes were read
 * over a longer window (at 300 MiB: 4.3 s instead of ~2.6 s until the last archive was listed)
 * while the verifications finished no sooner. Reading the live data in the shortest window gives a
 * set whose volumes are closer in time to each other and competes with Elexis for the disk for
 * less time; the verifications only read our own archives and can follow.
 *
 * The prune still waits for its verify (the flow), so nothing is deleted earlier; a verify never
 * waits longer than MAX_WAIT_MS after its run started, so a run of a huge volume does not leave the
 * small ones unverified for hours.
 */
import type { Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';

/** How often a waiting verify looks again (a delayed job: no worker is held meanwhile). */
export const ARCHIVES_FIRST_POLL_MS = 250;
/** After this long since its run started, a verify runs whatever else still archives. */
export const ARCHIVES_FIRST_MAX_WAIT_MS = 10 * 60_000;

/** True when this verify (of a run) should wait for the archives and dumps still to do. */
export async function waitForArchives(ctx: Pick<AppContext, 'queues'>, job: Job, now = Date.now()): Promise<boolean> {
  if (!job.parent || now - job.timestamp > ARCHIVES_FIRST_MAX_WAIT_MS) return false;
  const counts = await Promise.all([ctx.queues.archive, ctx.queues.dump].map((q) => q.getJobCounts('wait', 'active', 'prioritized')));
  return counts.some((c) => (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) > 0);
}

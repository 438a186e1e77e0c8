/**
 * Off-site copies that failed for good are queued again. A copy job has OFFSITE_COPY_ATTEMPTS
 * attempts (12 over about 2.8 days by default); a target down over a long weekend used them all,
 * and then nothing ever copied that archive again: prune kept it past its retention for good (a
 * target lacks it) and alerted `offsite.overdue` every night (found by an audit). Each prune of a
 * volume now queues a new copy of every verified archive of it that a target it was queued for
 * still lacks, unless a copy of it to that target is still waiting or retrying. The new job looks
 * on the target first (`find`), so a copy that did arrive is recorded, not sent again.
 */
import type { JobType } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import type { ArchiveKind } from '../core/names.js';
import { queueCopies } from '../stores/copy-jobs.js';
import { missingTargets } from '../stores/offsite-copies.js';

const PENDING: JobType[] = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];

interface Archive {
  file: string;
  volume: string;
  stamp: string;
  kind: ArchiveKind;
  verified: { ok: boolean } | null;
}

/** Returns the copy jobs queued (`file → target` each). */
export async function requeueFailedCopies(ctx: AppContext, archives: readonly Archive[], log: Logger): Promise<{ file: string; target: string }[]> {
  const offsite = ctx.config.offsite;
  const candidates = archives.filter((a) => a.verified?.ok === true);
  if (!offsite?.targets.length || candidates.length === 0) return [];
  const names = candidates.map((a) => a.file);
  const [records, expected, rebuilt] = await Promise.all([ctx.copies.forFiles(names), ctx.copies.expectedFor(names), ctx.copies.rebuiltTargets()]);
  const pending = new Set((await ctx.queues.copy.getJobs(PENDING)).filter((j) => j?.data).map((j) => `${j.data.file}\n${j.data.target}`));
  const queued: { file: string; target: string }[] = [];
  for (const a of candidates) {
    // A target whose records are still being rebuilt after a Redis loss is left to the rebuild.
    const wanted = (expected.get(a.file) ?? []).filter((t) => offsite.targets.includes(t) && rebuilt.has(t));
    const missing = missingTargets(wanted, records.get(a.file)).filter((t) => !pending.has(`${a.file}\n${t}`));
    if (missing.length === 0) continue;
    const policy = { targets: missing, attempts: offsite.copyAttempts, retryDelayMs: offsite.retryDelayMs };
    await queueCopies(ctx.queues, { volume: a.volume, stamp: a.stamp, file: a.file, kind: a.kind, find: true }, policy, `-again-${ctx.clock.now().getTime()}`);
    for (const target of missing) queued.push({ file: a.file, target });
  }
  if (queued.length) log.warn({ copies: queued }, 'off-site copies that failed for good queued again');
  return queued;
}

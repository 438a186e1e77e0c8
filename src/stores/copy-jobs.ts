/**
 * Queues the off-site copies of one verified archive: one job per target, ids derived from the
 * archive and the target, so a verify job that runs twice (retry, stalled) queues each copy once.
 */
import { createHash } from 'node:crypto';
import type { ArchiveKind } from '../core/names.js';
import { KEEP_HISTORY, type CopyJobData, type Queues } from './queues.js';

export interface CopyPolicy {
  targets: readonly string[];
  attempts: number;
  /** First backoff; doubles with each attempt. */
  retryDelayMs: number;
}

/** A job id may not hold `:` (and a target does): the target is named by a short hash of itself. */
export function copyJobId(volume: string, stamp: string, target: string): string {
  return `copy-${volume}-${stamp}-${createHash('sha256').update(target).digest('hex').slice(0, 10)}`;
}

/** `idSuffix`: for a copy made again (its first job is done, and an id is used once). */
export async function queueCopies(queues: Queues, archive: { volume: string; stamp: string; file: string; kind: ArchiveKind; find?: boolean }, policy: CopyPolicy, idSuffix = ''): Promise<string[]> {
  const jobs = policy.targets.map((target) => ({
    name: 'copy',
    data: { ...archive, target } satisfies CopyJobData,
    opts: { ...KEEP_HISTORY, jobId: copyJobId(archive.volume, archive.stamp, target) + idSuffix, attempts: policy.attempts, backoff: { type: 'exponential', delay: policy.retryDelayMs } },
  }));
  const added = await queues.copy.addBulk(jobs);
  return added.map((j) => j.id!);
}

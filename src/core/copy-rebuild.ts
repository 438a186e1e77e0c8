/**
 * After Redis lost its data, which of BACKUP_DIR's archives have to go through a copy job to one
 * target again: pure logic, no I/O (the caller lists the target, jobs/copy-rebuild.ts).
 *
 * - `find`: the target lists a complete copy (its completion marker is there). The copy job checks
 *   it against the local archive and records it without uploading (engine/offsite/find-copy.ts);
 *   only a copy that does not match is uploaded again.
 * - `copy`: not on the target, and newer than the newest copy of its volume there: its copy job was
 *   queued or retrying when the queue was lost (the verify job of each run queues the copies in
 *   stamp order, so an older archive than one the target holds was not waiting for its copy).
 * - nothing for the rest: an archive older than the target's newest copy of its volume that the
 *   target does not hold was removed there by the target's retention, or made before the target
 *   was configured; uploading it again would cost hours of a practice's uplink and the target's
 *   retention would remove it again. Nor for a volume of which the target holds no copy at all
 *   (a target added later, or one that never received anything: nothing tells which archives were
 *   meant for it), for safety backups (never copied), or for archives whose verification failed.
 */
import type { ArchiveName } from './names.js';

export interface LocalArchiveFacts extends Pick<ArchiveName, 'file' | 'volume' | 'stamp'> {
  verified: { ok: boolean } | null;
  safetyFor: string | null;
}

export interface RebuildPlan {
  /** A complete copy is listed on the target: to be checked, and recorded without upload if it matches. */
  find: string[];
  /** Not on the target, newer than its newest copy of the volume: its copy was lost with the queue. */
  copy: string[];
}

/**
 * `remote`: the archive file names the target holds complete copies of; `recorded`: archives with a
 * record for this target already (made, found, or removed by the target's retention).
 */
export function planCopyRebuild(local: readonly LocalArchiveFacts[], remote: Iterable<Pick<ArchiveName, 'file' | 'volume' | 'stamp'>>, recorded: ReadonlySet<string>): RebuildPlan {
  const onTarget = new Set<string>();
  const newestThere = new Map<string, string>();
  for (const r of remote) {
    onTarget.add(r.file);
    if (r.stamp > (newestThere.get(r.volume) ?? '')) newestThere.set(r.volume, r.stamp);
  }
  const plan: RebuildPlan = { find: [], copy: [] };
  for (const a of [...local].sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0))) {
    if (recorded.has(a.file)) continue;
    if (onTarget.has(a.file)) {
      plan.find.push(a.file);
      continue;
    }
    const newest = newestThere.get(a.volume);
    if (newest === undefined || a.stamp <= newest) continue;
    if (a.safetyFor !== null || a.verified?.ok !== true) continue;
    plan.copy.push(a.file);
  }
  return plan;
}

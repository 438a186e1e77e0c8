/**
 * After Redis lost its data, which of BACKUP_DIR's archives have to go through a copy job to one
 * target again: pure logic, no I/O (the caller lists the target, jobs/copy-rebuild.ts).
 *
 * - `find`: the target lists a complete copy (its completion marker is there). The copy job checks
 *   it against the local archive and records it without uploading (engine/offsite/find-copy.ts);
 *   only a copy that does not match is uploaded again.
 * - `copy`: not on the target, and newer than the newest copy of its volume there: its copy job was
 *   queued or retrying when the queue was lost. Also one between the target's oldest and newest
 *   copy of its volume that the target's retention (OFFSITE_RETENTION) keeps with those copies
 *   there: the retention did not remove it, so its copy failed or was still retrying when the
 *   queue was lost (a copy retried with hours of backoff while the next night's copy got through).
 *   Before, prune held such an archive (`offsite.overdue`); without it, prune deleted it, and it
 *   existed nowhere off-site.
 * - nothing for the rest: an archive older than the target's oldest copy of its volume was made
 *   before the target was configured or removed there by its retention, and so was one between
 *   that the target's retention does not keep; uploading it again would cost hours of a practice's
 *   uplink and the target's retention would remove it again. Nor for a volume of which the target holds no copy at all
 *   (a target added later, or one that never received anything: nothing tells which archives were
 *   meant for it), for safety backups (never copied), or for archives whose verification failed.
 */
import type { ArchiveName } from './names.js';
import { selectByPolicy } from './gfs.js';
import { contiguousChainNeeds, withoutNeeded } from './retention.js';
import type { RetentionPolicy } from './retention-policy.js';

export interface LocalArchiveFacts extends ArchiveName {
  verified: { ok: boolean } | null;
  safetyFor: string | null;
  /** Flagged for a size drop here: the target's retention does not count its copy either. */
  sizeDrop?: unknown;
}

export interface RebuildPlan {
  /** A complete copy is listed on the target: to be checked, and recorded without upload if it matches. */
  find: string[];
  /** Not on the target, newer than its newest copy of the volume: its copy was lost with the queue. */
  copy: string[];
}

/**
 * `remote`: the archives the target holds complete copies of; `recorded`: archives with a record for
 * this target already (made, found, or removed by the target's retention); `retention`: the
 * target's OFFSITE_RETENTION (none: `never`).
 */
export function planCopyRebuild(
  local: readonly LocalArchiveFacts[],
  remote: Iterable<ArchiveName>,
  recorded: ReadonlySet<string>,
  retention: RetentionPolicy = { kind: 'never' },
  drops: ReadonlySet<string> = new Set(),
): RebuildPlan {
  const onTarget = new Set<string>();
  const there = new Map<string, ArchiveName[]>();
  for (const r of remote) {
    onTarget.add(r.file);
    there.set(r.volume, [...(there.get(r.volume) ?? []), r]);
  }
  const plan: RebuildPlan = { find: [], copy: [] };
  for (const a of [...local].sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0))) {
    if (recorded.has(a.file)) continue;
    if (onTarget.has(a.file)) {
      plan.find.push(a.file);
      continue;
    }
    const copies = there.get(a.volume);
    if (copies === undefined || a.safetyFor !== null || a.verified?.ok !== true) continue;
    const stamps = copies.map((c) => c.stamp).sort();
    const dropped = (a.sizeDrop ?? null) !== null || drops.has(a.file);
    if (a.stamp > stamps[stamps.length - 1]! || (a.stamp > stamps[0]! && !removedByRetention(copies, a, retention, drops, dropped))) plan.copy.push(a.file);
  }
  return plan;
}

/**
 * Whether the target's retention (../engine/offsite/remote-retention.ts) may have removed `a`, an
 * archive newer than a copy of its volume still there. `keep` removes a prefix: the oldest copies
 * (and size drops older than the oldest counted copy kept), never one newer than a copy it leaves
 * (a chain needed by a kept incremental is kept from its full on) — also where the target refused
 * to delete, so that it holds more than `keep`. GFS leaves gaps: `a` was removed if GFS, applied
 * to the copies there with `a` among them, does not keep it. Size drops (`drops`, the target's own
 * rule: remoteSizeDrops) are left out of the GFS count as the target's retention leaves them out,
 * and are never removed by it (`dropped`: `a` is one): counted here, a size drop of the same day
 * took `a`'s place as the day's newest, and `a` was not copied again although the target keeps it
 * (found by an audit).
 */
function removedByRetention(copies: readonly ArchiveName[], a: ArchiveName, retention: RetentionPolicy, drops: ReadonlySet<string>, dropped: boolean): boolean {
  if (retention.kind !== 'gfs' || dropped) return false;
  const all = [...copies, a];
  return withoutNeeded(all, selectByPolicy(all.filter((c) => !drops.has(c.file)), retention), contiguousChainNeeds(all)).some((d) => d.file === a.file);
}

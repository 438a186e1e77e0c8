/**
 * Retention on one target for one volume (OFFSITE_RETENTION): the complete copies the policy no
 * longer keeps are removed, the completion marker first, so that a removal cut short leaves no copy
 * that is still listed as complete. A delete the remote refuses (object lock, an append-only
 * server) is reported, not thrown: the next copy to this target tries again, and nothing else waits.
 * What a kept incremental needs (the full and the incrementals before it) is kept with it. Copies
 * of a size drop (core/retention.ts remoteSizeDrops) do not count as generations: as in BACKUP_DIR,
 * the good copies stay, and the drops are kept while recent (remoteDoomed).
 */
import { selectByPolicy } from '../../core/gfs.js';
import { contiguousChainNeeds, remoteSizeDrops, selectPrunable, withoutNeeded } from '../../core/retention.js';
import { completionMarker, remoteNamesOf } from '../../core/offsite-names.js';
import type { ArchiveName } from '../../core/names.js';
import type { RetentionPolicy } from '../../core/retention-policy.js';
import { deleteFile, remotePath, type RcloneOptions } from './rclone.js';
import { listRemoteArchives } from './remote-listing.js';

export interface RemoteRetentionResult {
  removed: string[];
  refused: { file: string; error: string }[];
  /** Copies not counted as generations (a size drop): kept while recent (remoteDoomed). */
  sizeDrops: string[];
}

export interface SizeDropRule {
  /** SIZE_DROP_ALERT (0.5 = half); 0 turns the size comparison off. */
  threshold: number;
  /** Archives the local listing flagged for a size drop. */
  flaggedLocally: ReadonlySet<string>;
}

/**
 * What the policy removes. With `keep`, as in BACKUP_DIR (selectPrunable): the copies of a size drop
 * are kept while newer than the oldest counted copy kept, and go once `keep` good generations
 * followed them (a volume wiped for a night and restored: before, its copies stayed on the target
 * for good). With GFS, as LOCAL_RETENTION=gfs does, they wait for a person.
 */
export function remoteDoomed<A extends ArchiveName>(mine: A[], volume: string, policy: RetentionPolicy, drops: ReadonlySet<string>): A[] {
  if (policy.kind === 'keep') return selectPrunable(mine, volume, policy.keep, (a) => drops.has(a.file));
  return selectByPolicy(mine.filter((a) => !drops.has(a.file)), policy);
}

export async function applyRemoteRetention(
  rclone: RcloneOptions, target: string, volume: string, policy: RetentionPolicy, sizeDrop: SizeDropRule, signal?: AbortSignal,
): Promise<RemoteRetentionResult> {
  const result: RemoteRetentionResult = { removed: [], refused: [], sizeDrops: [] };
  if (policy.kind === 'never') return result;
  const mine = (await listRemoteArchives(rclone, target, signal)).filter((a) => a.volume === volume);
  const flagged = new Set([...sizeDrop.flaggedLocally, ...mine.filter((a) => a.sizeDropMarked).map((a) => a.file)]);
  const drops = remoteSizeDrops(mine, sizeDrop.threshold, flagged);
  result.sizeDrops = mine.filter((a) => drops.has(a.file)).map((a) => a.file);
  // Incremental archives (issue 16): a kept one keeps its chain on the target, or it restores nothing.
  for (const a of withoutNeeded(mine, remoteDoomed(mine, volume, policy, drops), contiguousChainNeeds(mine))) {
    try {
      await deleteFile(rclone, remotePath(target, completionMarker(a.file, a.encrypted)), signal);
    } catch (err) {
      result.refused.push({ file: a.object, error: (err as Error).message });
      continue;
    }
    // The marker is gone: the copy is no longer listed. What else remains is removed as far as
    // the remote lets us; a leftover is harmless (never listed) and goes with a later run.
    for (const name of remoteNamesOf(a.file).filter((n) => n !== completionMarker(a.file, a.encrypted))) {
      await deleteFile(rclone, remotePath(target, name), signal).catch(() => undefined);
    }
    result.removed.push(a.file);
  }
  return result;
}

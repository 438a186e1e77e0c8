/**
 * Retention on one target for one volume (OFFSITE_RETENTION): the complete copies the policy no
 * longer keeps are removed, the completion marker first, so that a removal cut short leaves no copy
 * that is still listed as complete. A delete the remote refuses (object lock, an append-only
 * server) is reported, not thrown: the next copy to this target tries again, and nothing else waits.
 * What a kept incremental needs (the full and the incrementals before it) is kept with it. Copies
 * of a size drop (core/retention.ts remoteSizeDrops) do not count as generations and are not
 * removed here: as in BACKUP_DIR, they wait for a person, and the good copies stay.
 */
import { selectByPolicy } from '../../core/gfs.js';
import { contiguousChainNeeds, remoteSizeDrops, withoutNeeded } from '../../core/retention.js';
import { completionMarker, remoteNamesOf } from '../../core/offsite-names.js';
import type { RetentionPolicy } from '../../core/retention-policy.js';
import { deleteFile, remotePath, type RcloneOptions } from './rclone.js';
import { listRemoteArchives } from './remote-listing.js';

export interface RemoteRetentionResult {
  removed: string[];
  refused: { file: string; error: string }[];
  /** Copies not counted as generations (a size drop), so kept. */
  sizeDrops: string[];
}

export interface SizeDropRule {
  /** SIZE_DROP_ALERT (0.5 = half); 0 turns the size comparison off. */
  threshold: number;
  /** Archives the local listing flagged for a size drop. */
  flaggedLocally: ReadonlySet<string>;
}

export async function applyRemoteRetention(
  rclone: RcloneOptions, target: string, volume: string, policy: RetentionPolicy, sizeDrop: SizeDropRule, signal?: AbortSignal,
): Promise<RemoteRetentionResult> {
  const result: RemoteRetentionResult = { removed: [], refused: [], sizeDrops: [] };
  if (policy.kind === 'never') return result;
  const mine = (await listRemoteArchives(rclone, target, signal)).filter((a) => a.volume === volume);
  const drops = remoteSizeDrops(mine, sizeDrop.threshold, sizeDrop.flaggedLocally);
  result.sizeDrops = mine.filter((a) => drops.has(a.file)).map((a) => a.file);
  const counted = mine.filter((a) => !drops.has(a.file));
  // Incremental archives (issue 16): a kept one keeps its chain on the target, or it restores nothing.
  for (const a of withoutNeeded(mine, selectByPolicy(counted, policy), contiguousChainNeeds(mine))) {
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

/**
 * Which archives of one volume a prune removes. Only names that parse as ours are ever considered
 * (the caller filters with parseArchiveName), so an admin's own files in BACKUP_DIR are never touched.
 * Stamps sort chronologically as strings (YYYY-MM-DD-HHmm).
 *
 * Archives flagged for a size drop (much smaller than the one before: a wiped volume, ransomware),
 * or whose verification failed, do not count as generations: the `keep` newest unflagged ones are kept, plus every flagged one
 * newer than the oldest of those — so a run of suspicious archives cannot push the good old
 * generations out, and a flagged archive is not deleted while it is still among the recent ones.
 *
 * Incremental archives (issue 16): every archive is one restorable point, so `keep` counts them
 * like fulls; what a kept archive needs (`needs`: the full and the incrementals before it, from its
 * manifest) is kept too, whatever its age. A full is pruned only when no kept archive needs it.
 */
import { isValidStamp, type ArchiveName } from './names.js';

export function selectPrunable<A extends ArchiveName>(
  archives: A[],
  volume: string,
  keep: number,
  isFlagged: (a: A) => boolean = () => false,
  needs: (a: A) => readonly string[] = () => [],
): A[] {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`keep must be an integer >= 1, got ${keep}`);
  const mine = archives
    .filter((a) => a.volume === volume && isValidStamp(a.stamp))
    .sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
  const good = mine.filter((a) => !isFlagged(a));
  const kept = new Set(good.slice(0, keep));
  const oldestKept = good[Math.min(keep, good.length) - 1];
  for (const a of mine) {
    if (isFlagged(a) && (oldestKept === undefined || good.length < keep || a.stamp > oldestKept.stamp)) kept.add(a);
  }
  const keptFiles = new Set([...kept].flatMap((a) => [a.file, ...needs(a)]));
  return mine.filter((a) => !keptFiles.has(a.file));
}

/**
 * An archive that must not count as one of the `keep` generations (selectPrunable's `isFlagged`):
 * flagged for a size drop (a wiped or encrypted volume), one whose verification failed (a bad
 * new archive must never push a good old one out), or a safety backup (the data right before a
 * restore: an admin who tries three sets after ransomware made three, of the encrypted data, and
 * each pushed a good old set out at the next prune; found by a tester). Kept while recent.
 */
export function notAGeneration(a: { sizeDrop: unknown; verified: { ok: boolean } | null; safetyFor?: string | null }): boolean {
  return a.sizeDrop !== null || a.verified?.ok === false || (a.safetyFor ?? null) !== null;
}

/**
 * notAGeneration, and also an archive whose chain (`needs`) holds one that failed its verification
 * or is a size drop: an incremental on a full found bad later cannot be restored (verify fails it
 * with its base), and one continuing a wiped volume's full continues the wipe. Counted, such
 * incrementals pushed the older good chain out (found by an audit: keep 3 left one sound point).
 */
export function chainAwareNotAGeneration<A extends { file: string; sizeDrop: unknown; verified: { ok: boolean } | null; safetyFor?: string | null }>(
  all: readonly A[],
  needs: (a: A) => readonly string[],
): (a: A) => boolean {
  const unsound = new Set(all.filter((a) => a.sizeDrop !== null || a.verified?.ok === false).map((a) => a.file));
  return (a) => notAGeneration(a) || needs(a).some((f) => unsound.has(f));
}

/**
 * With LOCAL_RETENTION=gfs, flagged archives wait for a person, but safety backups are no alarm:
 * they go once they are older than every generation the policy keeps, as in `keep` mode.
 */
export function safetyBackupsPast<A extends { stamp: string; safetyFor: string | null }>(archives: readonly A[], keptGenerations: readonly A[]): A[] {
  const oldest = keptGenerations.reduce<string | undefined>((min, a) => (min === undefined || a.stamp < min ? a.stamp : min), undefined);
  return oldest === undefined ? [] : archives.filter((a) => a.safetyFor !== null && a.stamp < oldest);
}

/** A drop from `previous` to `current` bytes by at least `threshold` (0.5 = half). 0 disables. */
export function isSizeDrop(previous: number, current: number, threshold: number): boolean {
  if (threshold <= 0 || previous <= 0) return false;
  return current < previous * (1 - threshold);
}

/**
 * What each archive needs kept for it (selectPrunable's `needs`): an incremental's chain as its
 * manifest names it; an incremental whose manifest cannot tell (unreadable: `basedOn` empty) needs
 * every older archive of its volume, since pruning a base by mistake loses restore points for good.
 */
export function chainNeeds<A extends ArchiveName & { basedOn: readonly string[] }>(all: readonly A[]): (a: A) => readonly string[] {
  return (a) => (a.incremental && a.basedOn.length === 0 ? all.filter((x) => x.volume === a.volume && x.stamp < a.stamp).map((x) => x.file) : a.basedOn);
}

/**
 * What an incremental needs where no manifest is at hand (the archives on an off-site target, whose
 * manifests may be encrypted): every archive of its volume from the newest full before it on. A
 * chain is contiguous: each incremental continues the newest archive, and a full starts a new one.
 */
export function contiguousChainNeeds<A extends ArchiveName>(all: readonly A[]): (a: A) => readonly string[] {
  return (a) => {
    if (!a.incremental) return [];
    const older = all.filter((x) => x.volume === a.volume && x.stamp < a.stamp);
    const start = older.filter((x) => !x.incremental).reduce<string>((newest, x) => (x.stamp > newest ? x.stamp : newest), '');
    return older.filter((x) => x.stamp >= start).map((x) => x.file);
  };
}

/**
 * What a prune deletes of the archives its policy chose (`chosen`): never `own`, the run's archive
 * just verified, and never what an archive that stays needs, among them `own` and the archives
 * stamped in the future (in `all`, never chosen). `own` is taken out before the chains are kept:
 * taken out after, it stayed without the full it continues (found by an audit), as did a
 * future-stamped incremental when `all` left the future out.
 */
export function pruneDeletes<A extends { file: string }>(all: readonly A[], chosen: readonly A[], own: string, needs: (a: A) => readonly string[]): A[] {
  return withoutNeeded(all, chosen.filter((a) => a.file !== own), needs);
}

/** `doomed` less every archive that one not doomed needs (the full and incrementals before it). */
export function withoutNeeded<A extends { file: string }>(all: readonly A[], doomed: readonly A[], needs: (a: A) => readonly string[]): A[] {
  const gone = new Set(doomed.map((a) => a.file));
  const needed = new Set(all.filter((a) => !gone.has(a.file)).flatMap((a) => needs(a)));
  return doomed.filter((a) => !needed.has(a.file));
}

/**
 * The copies on an off-site target that must not count as generations there (remote retention):
 * each one the local listing flagged for a size drop, each full copy smaller than the volume's
 * previous counted full on the target by `threshold` (SIZE_DROP_ALERT), and the incrementals that
 * continue a flagged full. Without this, the nightly copies of a wiped volume (or of a new, still
 * empty server writing to the same target, which has no earlier archive of its own to compare
 * with) became the target's newest generations and pushed the good copies out after `keep`
 * nights. Sizes on the target are the ciphertext's when encrypted: proportional to the archive's.
 * An incremental's own size says how much changed, not how large the volume is, so only fulls are
 * compared by size.
 */
export function remoteSizeDrops<A extends ArchiveName & { size: number }>(copies: readonly A[], threshold: number, flaggedLocally: ReadonlySet<string>): Set<string> {
  const flagged = new Set<string>();
  const byVolume = new Map<string, A[]>();
  for (const a of copies) byVolume.set(a.volume, [...(byVolume.get(a.volume) ?? []), a]);
  for (const list of byVolume.values()) {
    let previousFull: number | undefined;
    let chainFlagged = false;
    for (const a of [...list].sort((x, y) => (x.stamp < y.stamp ? -1 : x.stamp > y.stamp ? 1 : 0))) {
      if (a.incremental) {
        if (chainFlagged || flaggedLocally.has(a.file)) flagged.add(a.file);
        continue;
      }
      chainFlagged = flaggedLocally.has(a.file) || (previousFull !== undefined && isSizeDrop(previousFull, a.size, threshold));
      if (chainFlagged) flagged.add(a.file);
      else previousFull = a.size;
    }
  }
  return flagged;
}

/**
 * Backup sets known only from the off-site targets (the disaster case: a new server with an empty
 * BACKUP_DIR and the same OFFSITE_TARGETS). Each target is listed with one `rclone lsjson`; the
 * result is kept for a minute per API process, since the main screen polls the listing and a
 * remote listing costs a round trip to the provider (and, on S3, money). A target that cannot be
 * listed is named in `remoteErrors`, never fails the listing of the local sets.
 */
import { stampToDate } from '../core/names.js';
import { listRemoteArchives, type ListedRemoteArchive } from '../engine/offsite/remote-listing.js';
import type { AppContext } from '../runtime/context.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';

const CACHE_MS = 60_000;

export interface RemoteListing {
  archives: ListedRemoteArchive[];
  errors: { target: string; error: string }[];
}

let cached: { at: number; key: string; listing: Promise<RemoteListing> } | undefined;

/** Every complete copy on every target; `fresh` skips the cache (a restore request checks the target itself). */
export function remoteArchives(ctx: Pick<AppContext, 'config'>, o: { fresh?: boolean; targets?: string[] } = {}): Promise<RemoteListing> {
  const offsite = ctx.config.offsite;
  if (!offsite) return Promise.resolve({ archives: [], errors: [] });
  const targets = o.targets ?? offsite.targets;
  const key = `${ctx.config.queuePrefix}\u0000${targets.join('\u0000')}`;
  if (!o.fresh && cached && cached.key === key && Date.now() - cached.at < CACHE_MS) return cached.listing;
  const listing = (async () => {
    const rclone = await rcloneOptions(offsite);
    const results = await Promise.all(
      targets.map((target) =>
        listRemoteArchives(rclone, target).then(
          (archives) => ({ target, archives }),
          (err: Error) => ({ target, error: err.message }),
        ),
      ),
    );
    return {
      archives: results.flatMap((r) => ('archives' in r ? r.archives : [])),
      errors: results.flatMap((r) => ('error' in r ? [{ target: r.target, error: r.error }] : [])),
    };
  })();
  cached = { at: Date.now(), key, listing };
  listing.catch(() => (cached = undefined));
  return listing;
}

/** Sets whose stamp has no archive in BACKUP_DIR, as the listing shows them (`remote: true`). */
export function remoteOnlySets(archives: ListedRemoteArchive[], localStamps: Set<string>, timezone: string) {
  const byStamp = new Map<string, ListedRemoteArchive[]>();
  for (const a of archives) {
    if (localStamps.has(a.stamp)) continue;
    byStamp.set(a.stamp, [...(byStamp.get(a.stamp) ?? []), a]);
  }
  return [...byStamp.entries()]
    .sort(([x], [y]) => (x < y ? 1 : x > y ? -1 : 0))
    .map(([stamp, list]) => {
      const byFile = new Map<string, ListedRemoteArchive[]>();
      for (const a of list) byFile.set(a.file, [...(byFile.get(a.file) ?? []), a]);
      return {
        stamp,
        createdAt: stampToDate(stamp, timezone).toISOString(),
        catchUpFor: null,
        remote: true,
        archives: [...byFile.entries()]
          .sort(([x], [y]) => x.localeCompare(y))
          .map(([file, copies]) => ({
            volume: copies[0]!.volume,
            kind: copies[0]!.kind,
            stamp,
            file,
            remote: true,
            copies: copies.map((c) => ({ target: c.target, file: c.object, size: c.size, sha256: null, copiedAt: c.modTime, verifiedAt: null })),
          })),
      };
    });
}

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

/** An archive known only from the targets, as the listing shows it (`remote: true`, its copies). */
function remoteArchiveView(stamp: string, file: string, copies: ListedRemoteArchive[]) {
  return {
    volume: copies[0]!.volume,
    kind: copies[0]!.kind,
    stamp,
    file,
    remote: true as const,
    copies: copies.map((c) => ({ target: c.target, file: c.object, size: c.size, sha256: null, copiedAt: isoTime(c.modTime), verifiedAt: null })),
  };
}

/** rclone's ModTime (`…T06:14:15.000000000+01:00`, or `…Z`) as the recorded copies give theirs: ISO in UTC, milliseconds. */
function isoTime(modTime: string): string {
  const t = Date.parse(modTime);
  return Number.isNaN(t) ? modTime : new Date(t).toISOString();
}

/**
 * The listing with what the targets hold beyond BACKUP_DIR: an archive found only on a target joins
 * its set when the set is here (a new server that restored one volume of it: an audit found the
 * set's other archives gone from the screen, though restorable), and sets found only there are
 * listed as `remote: true`. Newest first.
 */
export function withRemoteArchives<S extends { stamp: string; archives: { file: string }[] }>(localSets: S[], archives: ListedRemoteArchive[], timezone: string) {
  const localFiles = new Set(localSets.flatMap((s) => s.archives.map((a) => a.file)));
  const byStamp = new Map<string, Map<string, ListedRemoteArchive[]>>();
  for (const a of archives) {
    if (localFiles.has(a.file)) continue;
    const files = byStamp.get(a.stamp) ?? new Map<string, ListedRemoteArchive[]>();
    files.set(a.file, [...(files.get(a.file) ?? []), a]);
    byStamp.set(a.stamp, files);
  }
  const views = (stamp: string) =>
    [...(byStamp.get(stamp) ?? new Map<string, ListedRemoteArchive[]>()).entries()].sort(([x], [y]) => x.localeCompare(y)).map(([file, copies]) => remoteArchiveView(stamp, file, copies));
  const local = localSets.map((s) => (byStamp.has(s.stamp) ? { ...s, archives: [...s.archives, ...views(s.stamp)] } : s));
  const localStamps = new Set(localSets.map((s) => s.stamp));
  const remote = [...byStamp.keys()]
    .filter((stamp) => !localStamps.has(stamp))
    .map((stamp) => ({ stamp, createdAt: stampToDate(stamp, timezone).toISOString(), catchUpFor: null, remote: true as const, archives: views(stamp) }));
  return [...local, ...remote].sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
}

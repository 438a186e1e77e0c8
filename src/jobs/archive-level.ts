/**
 * Which archive a run writes for a volume (issue 16): in full mode today's full archive; in
 * incremental mode a GNU tar listed-incremental archive continuing the volume's newest archive, or
 * a new level-0 full when there is nothing sound to continue:
 *   - no earlier archive, or the newest was made in full mode (a safety backup before a restore is
 *     one: after a restore every file is new anyway);
 *   - its snapshot is missing or fails its checksum, a base it needs is gone or changed;
 *   - its verification failed, or a base's did (never build on an archive known to be bad);
 *   - the chain has reached `fullEvery` archives, or it is the first run on the `fullOn` weekday
 *     (the chain's full is from an earlier day).
 * The newest archive is the base, always: a chain (each incremental holds the changes since the
 * one before), not level 1 against the full; README "Incremental archives" says why.
 */
import type { AppContext } from '../runtime/context.js';
import { archiveFileName } from '../core/names.js';
import { nextLevel } from '../core/chain-plan.js';
import { chainLinkOf, type ArchiveRef, type ChainLink } from '../engine/incremental/chain.js';
import type { VolumeMode } from '../stores/volume-modes.js';

export type ArchivePlan =
  | { mode: 'full'; fileName: string }
  | { mode: 'incremental'; fileName: string; level: number; base?: ChainLink; basedOn: ArchiveRef[]; why: string };

export async function planArchive(ctx: AppContext, volume: string, stamp: string, setting: VolumeMode): Promise<ArchivePlan> {
  if (setting.mode === 'full') return { mode: 'full', fileName: archiveFileName(volume, stamp) };
  const full = (why: string): ArchivePlan => ({ mode: 'incremental', fileName: archiveFileName(volume, stamp), level: 0, basedOn: [], why });
  const earlier = (await ctx.store.listArchives())
    .filter((a) => a.kind === 'volume' && a.volume === volume && a.stamp < stamp)
    .sort((a, b) => (a.stamp < b.stamp ? 1 : -1));
  const newest = earlier[0];
  if (!newest) return full('no earlier archive of the volume');
  if (newest.verified?.ok === false) return full(`the newest archive ${newest.file} failed its verification`);
  const b = await chainLinkOf(ctx.config.backupDir, newest.file);
  if ('reason' in b) return full(b.reason);
  // Every base of the chain, not only the newest: a base found bad by a later verification (bit
  // rot) makes every point on top of it unrestorable, this run's too (found by an audit).
  const bad = b.chain.map((c) => earlier.find((a) => a.file === c.file)).find((a) => a?.verified?.ok === false);
  if (bad) return full(`${bad.file}, a base of the newest archive, failed its verification`);
  const choice = nextLevel({ level: b.link.level, full: b.chain[0]!.file }, stamp, setting);
  if (choice.why !== undefined) return full(choice.why);
  return {
    mode: 'incremental',
    fileName: archiveFileName(volume, stamp, true),
    level: choice.level,
    base: b.link,
    basedOn: b.chain,
    why: `changes since ${newest.file}`,
  };
}

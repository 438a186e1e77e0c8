/**
 * Free-space guard before an archive: estimate its size (the volume's last archive, else the
 * volume's size) and fail early with a clear reason if it would not fit with a margin. Failing
 * here fails the run's prune too, so nothing is deleted to make room — that is a person's call.
 */
import type { AppContext } from '../runtime/context.js';
import { formatBytes, freeBytes, NoSpaceError } from '../engine/fs/free-space.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { walkTree } from '../engine/fs/tree-walk.js';

/**
 * `full`: the archive will hold the whole volume, so the estimate is the newest full's size, not
 * that of an incremental that happens to be newer (issue 16); otherwise the newest archive's.
 */
export async function ensureRoomForArchive(ctx: AppContext, volume: string, volumeDir: string, full = true): Promise<{ estimate: number; free: number }> {
  const previous = (await ctx.store.listArchives())
    .filter((a) => a.volume === volume && a.kind === 'volume' && (!full || a.level === 0))
    .sort((a, b) => (a.stamp < b.stamp ? 1 : -1))[0];
  const estimate = previous ? previous.size : await firstArchiveEstimate(volumeDir);
  const free = await freeBytes(ctx.config.backupDir);
  const needed = Math.ceil(estimate * 1.1) + ctx.config.spaceMarginBytes;
  if (free < needed) {
    throw new NoSpaceError(
      `not enough free space in ${ctx.config.backupDir} for the archive of ${volume}: ` +
        `need about ${formatBytes(needed)} (estimate ${formatBytes(estimate)} + margin), free ${formatBytes(free)}; ` +
        'free space or move BACKUP_DIR to a larger disk; no older backup was deleted',
    );
  }
  return { estimate, free };
}

/**
 * The worst case for a first archive: the volume's data uncompressed (compression only makes it
 * smaller). A file's holes count as what they become, runs of zeros that deflate ~1000:1: a 2 GiB
 * database file with 8 KiB of data estimated as 2 GiB made the first backup of such a volume fail
 * for want of space its archive (2 MB) never needed. Data blocks count as they are allocated, and
 * 512 bytes per entry for its header.
 */
export async function firstArchiveEstimate(dir: string): Promise<number> {
  let total = 0;
  let n = 0;
  try {
    for (const e of walkTree(dir)) {
      total += 512;
      const st = e.stat;
      if (st?.isFile()) {
        const allocated = Math.min(st.size, st.blocks * 512);
        total += allocated + Math.ceil((st.size - allocated) / 1000);
      }
      if (++n % 1000 === 0) await nextTurn(); // let the event loop breathe (lock renewals, progress)
    }
  } catch {
    return 0; // a missing volume fails in the archive step with its own message
  }
  return total;
}

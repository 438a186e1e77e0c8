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
  const estimate = previous ? previous.size : await treeBytes(volumeDir);
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

/** Uncompressed size as the worst case for a first archive (compression only makes it smaller). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let n = 0;
  try {
    for (const e of walkTree(dir)) {
      if (e.stat?.isFile()) total += e.stat.size;
      if (++n % 1000 === 0) await nextTurn(); // let the event loop breathe (lock renewals, progress)
    }
  } catch {
    return 0; // a missing volume fails in the archive step with its own message
  }
  return total;
}

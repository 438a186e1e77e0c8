/**
 * Size-drop alarm: an archive much smaller than the volume's previous one is the typical sign of a
 * wiped volume or of ransomware. It is flagged in its manifest (the listing shows it, retention
 * does not count it as a generation) and reported as an alert.
 */
import type { AppContext } from '../runtime/context.js';
import { isSizeDrop } from '../core/retention.js';
import type { Logger } from '../runtime/logger.js';
import { addManifestNotes } from '../engine/manifest-notes.js';
import { makeAlert } from '../stores/notifier.js';

export async function checkSizeDrop(ctx: AppContext, a: { volume: string; stamp: string; file: string }, log: Logger): Promise<boolean> {
  const threshold = ctx.config.sizeDropAlert;
  if (threshold <= 0) return false;
  const archives = (await ctx.store.listArchives()).filter((x) => x.volume === a.volume);
  const current = archives.find((x) => x.file === a.file);
  const previous = archives
    .filter((x) => x.stamp < a.stamp && x.sizeDrop === null)
    .sort((x, y) => (x.stamp < y.stamp ? 1 : -1))[0];
  if (!current || !previous || !isSizeDrop(previous.size, current.size, threshold)) return false;

  const sizeDrop = { previousFile: previous.file, previousSize: previous.size, ratio: Number((current.size / previous.size).toFixed(4)) };
  await addManifestNotes(ctx.config.backupDir, a.file, { sizeDrop });
  log.error({ volume: a.volume, file: a.file, size: current.size, ...sizeDrop }, 'archive is much smaller than the previous one: volume wiped or encrypted?');
  ctx.notifier.notify(makeAlert({
    event: 'archive.size_drop',
    volume: a.volume,
    stamp: a.stamp,
    reason: `${a.file} is ${Math.round(sizeDrop.ratio * 100)}% of the size of ${previous.file}`,
    details: { size: current.size, ...sizeDrop },
  }));
  return true;
}

/**
 * Size-drop alarm: an archive much smaller than the volume's previous one is the typical sign of a
 * wiped volume or of ransomware. It is flagged in its manifest (the listing shows it, retention
 * does not count it as a generation) and reported as an alert.
 *
 * Incremental mode (issue 16): an incremental's size says how much changed, not how large the
 * volume is, so archives with a `volumeEntries` count (from GNU tar's snapshot: every entry of the
 * volume) are compared by that count with the previous archive's; a wiped volume shows as a drop
 * in entries at any level. Archives without it are compared by bytes with the previous full.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../runtime/context.js';
import { isSizeDrop, notAGeneration } from '../core/retention.js';
import type { Logger } from '../runtime/logger.js';
import { addManifestNotes } from '../engine/manifest-notes.js';
import { makeAlert } from '../stores/notifier.js';

export async function checkSizeDrop(ctx: AppContext, a: { volume: string; stamp: string; file: string }, log: Logger): Promise<boolean> {
  const threshold = ctx.config.sizeDropAlert;
  if (threshold <= 0) return false;
  const archives = (await ctx.store.listArchives()).filter((x) => x.volume === a.volume);
  const current = archives.find((x) => x.file === a.file);
  // Compared with a generation only: neither a size drop, a failed archive, nor a safety backup (the
  // data right before a restore, often of the wiped volume itself: as the baseline, the next nights'
  // archives of the still-wiped volume were no drop and pushed the good generations out).
  const earlier = archives.filter((x) => x.stamp < a.stamp && !notAGeneration(x)).sort((x, y) => (x.stamp < y.stamp ? 1 : -1));
  if (!current) return false;
  const counted = await volumeEntries(ctx.config.backupDir, a.file, { incrementalOnly: true });
  let sizeDrop: { previousFile: string; previousSize: number; ratio: number; measure?: 'entries' } | undefined;
  if (counted !== undefined) {
    const previous = earlier[0];
    const before = previous && (await volumeEntries(ctx.config.backupDir, previous.file));
    if (previous && before !== undefined && isSizeDrop(before, counted, threshold)) {
      sizeDrop = { previousFile: previous.file, previousSize: before, ratio: Number((counted / before).toFixed(4)), measure: 'entries' };
    }
  } else {
    const previous = earlier.find((x) => x.level === 0);
    if (previous && isSizeDrop(previous.size, current.size, threshold)) {
      sizeDrop = { previousFile: previous.file, previousSize: previous.size, ratio: Number((current.size / previous.size).toFixed(4)) };
    }
  }
  if (!sizeDrop) return false;

  await addManifestNotes(ctx.config.backupDir, a.file, { sizeDrop });
  log.error({ volume: a.volume, file: a.file, size: current.size, ...sizeDrop }, 'archive is much smaller than the previous one: volume wiped or encrypted?');
  ctx.notifier.notify(makeAlert({
    event: 'archive.size_drop',
    volume: a.volume,
    stamp: a.stamp,
    reason: `${a.file} is ${Math.round(sizeDrop.ratio * 100)}% of the ${sizeDrop.measure === 'entries' ? 'entries' : 'size'} of ${sizeDrop.previousFile}`,
    details: { size: current.size, ...sizeDrop },
  }));
  return true;
}

/**
 * Entries of the volume below its root, as an archive's manifest tells them: `volumeEntries` of
 * incremental mode, or a full-mode archive's entry count without its root "./". Undefined without
 * a manifest of ours.
 */
async function volumeEntries(backupDir: string, file: string, o: { incrementalOnly?: boolean } = {}): Promise<number | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(backupDir, `${file}.manifest.json`), 'utf8')) as { volumeEntries?: unknown; entries?: unknown; level?: unknown };
    if (typeof m.volumeEntries === 'number') return m.volumeEntries;
    return !o.incrementalOnly && typeof m.entries === 'number' && m.level === undefined ? m.entries - 1 : undefined;
  } catch {
    return undefined;
  }
}

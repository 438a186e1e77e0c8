/**
 * How much room a restore needs, from what the backup's files say: the staging copy needs the
 * uncompressed content in the volume (our manifests; else the archives' size × RESTORE_SPACE_RATIO),
 * a safety backup about the compressed size again in BACKUP_DIR. For an incremental both come from
 * its whole chain: the restore writes every archive of it, and the safety backup archives the whole
 * volume, which the incremental alone (only what changed) would badly understate.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { formatBytes, requireSpace } from '../engine/fs/free-space.js';

export interface ChainSpace {
  /** Content bytes of every archive of the chain (an upper bound of what staging holds); undefined when a manifest does not say. */
  content: number | undefined;
  /** Compressed bytes of the chain's archives. */
  archives: number;
}

export async function chainSpace(backupDir: string, chain: string[]): Promise<ChainSpace> {
  const files = chain.map((f) => path.join(backupDir, f));
  const [content, sizes] = await Promise.all([Promise.all(files.map(manifestBytes)), Promise.all(files.map(async (f) => (await fs.stat(f)).size))]);
  return {
    content: content.every((n) => n !== undefined) ? content.reduce((a, b) => a! + b!, 0) : undefined,
    archives: sizes.reduce((a, b) => a + b, 0),
  };
}

/** Bytes the staging copy needs in the volume. */
export function stagingNeed(space: ChainSpace, restoreSpaceRatio: number): number {
  return Math.ceil((space.content ?? space.archives * restoreSpaceRatio) * 1.05);
}

/** Bytes a safety backup of volumes whose chains hold `archives` compressed bytes needs in BACKUP_DIR. */
export function safetyBackupNeed(archives: number): number {
  return Math.ceil(archives * 1.2);
}

/**
 * A set restore's room: staging needs the uncompressed size in each volume, the safety backup about
 * the archives' size again in BACKUP_DIR. Checked per directory, summed over the volumes that share
 * it (they often share one disk).
 */
export async function requireSetSpace(backupDir: string, restoreSpaceRatio: number, targets: readonly { volume: string; dir: string; space: ChainSpace }[], safetyBackup: boolean): Promise<void> {
  for (const t of targets) await requireSpace(t.dir, stagingNeed(t.space, restoreSpaceRatio), `restoring ${t.volume} (staging copy)`);
  if (safetyBackup) {
    const need = safetyBackupNeed(targets.reduce((n, t) => n + t.space.archives, 0));
    await requireSpace(backupDir, need, `the safety backup before the restore (about ${formatBytes(need)}; or request it with skipSafetyBackup)`);
  }
}

/** Content bytes an archive's manifest records (what extracting it writes), if it says. */
async function manifestBytes(archivePath: string): Promise<number | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(`${archivePath}.manifest.json`, 'utf8')) as { bytesRead?: unknown; contentBytes?: unknown };
    if (typeof m.contentBytes === 'number') return m.contentBytes;
    return typeof m.bytesRead === 'number' ? m.bytesRead : undefined;
  } catch {
    return undefined;
  }
}

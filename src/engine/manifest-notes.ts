/**
 * Notes added to an archive's `<file>.manifest.json` after it was written: a size drop (found by
 * the verify job), the missed tick a catch-up run stands in for (`catchUpFor`). A dump has no
 * manifest of its own; a note creates one. The listing (./backup-store.ts) reads them back.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './fs/atomic.js';

export const MANIFEST_SUFFIX = '.manifest.json';

export async function addManifestNotes(backupDir: string, file: string, notes: Record<string, unknown>): Promise<void> {
  const manifestPath = path.join(backupDir, `${file}${MANIFEST_SUFFIX}`);
  const raw = await fs.readFile(manifestPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '{}';
    throw err;
  });
  const manifest = JSON.parse(raw) as Record<string, unknown>;
  // A retry that finds its archive complete notes it again: nothing to write when it is there.
  if (Object.entries(notes).every(([k, v]) => JSON.stringify(manifest[k]) === JSON.stringify(v))) return;
  await writeFileAtomic(manifestPath, `${JSON.stringify({ ...manifest, ...notes }, null, 2)}\n`);
}

/**
 * A safety backup (the data right before a restore) says so in its manifest, with the restore's
 * id: it is listed as one (`safetyFor`) and counts as no generation (core/retention.ts).
 */
export async function noteSafetyBackup(backupDir: string, file: string, restoreId: string): Promise<void> {
  await addManifestNotes(backupDir, file, { safetyFor: restoreId });
}

/** A catch-up run's archive says in its manifest which missed tick it stands in for. */
export async function noteCatchUp(backupDir: string, file: string, catchUpFor: string | undefined): Promise<void> {
  if (catchUpFor) await addManifestNotes(backupDir, file, { catchUpFor });
}

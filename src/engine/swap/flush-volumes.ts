/**
 * Flushing the volumes' file systems before a swap (`sync -f`): the restored data must be on disk
 * before the originals can be deleted, and a flush that fails (the disk's I/O error) must stop the
 * swap before anything moved.
 */
import fs from 'node:fs/promises';
import { syncFileSystemOf } from '../fs/writeback.js';

/**
 * Flushes the file systems of these volumes, each once and side by side: volumes usually share one
 * file system (Docker's volumes directory), and every flush costs a journal commit and a flush of
 * the disk's cache even when little is left to write. Then `commitSwap(…, { flushed: true })`.
 * Rejects when a flush fails: the restored data may not be on disk (a failing `sync -f` reports the
 * disk's I/O error), so the caller must not swap it in and delete what the volume holds. (A plain
 * `sync` is no fallback: it cannot report an error.)
 */
export async function flushFileSystems(volumeDirs: readonly string[]): Promise<void> {
  const byDevice = new Map<number, string>();
  for (const dir of volumeDirs) {
    const { dev } = await fs.stat(dir);
    if (!byDevice.has(dev)) byDevice.set(dev, dir);
  }
  await Promise.all([...byDevice.values()].map((dir) => syncFilesystem(dir)));
}

/** Make everything written to the volume's file system so far durable (syncfs through coreutils' `sync -f`). */
export async function syncFilesystem(dir: string): Promise<void> {
  try {
    await syncFileSystemOf(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'the `sync` command was not found' : (e.stderr?.trim() || e.message);
    throw new Error(`flushing the file system of ${dir} failed (sync -f): ${why}`, { cause: err });
  }
}

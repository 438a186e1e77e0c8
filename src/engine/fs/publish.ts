/**
 * How a finished backup file becomes visible, the same for volume archives and database dumps:
 *
 *   data in `<file>.partial` (fsynced by the writer) → sidecars beside the final name, each written
 *   atomically → rename `<file>.partial` to `<file>` → fsync the directory.
 *
 * The final name is the commit point: a file under its final name always has its sidecars (the
 * `.sha256` above all), and a file that never got its final name leaves no sidecar claiming it
 * exists. Nothing is ever overwritten: an existing final name fails the publication.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { exists, fsyncDir, writeFileAtomic } from './atomic.js';

export type Sidecar =
  /** Appended to the final path, e.g. ".sha256". */
  | { suffix: string; content: string }
  /** A sidecar written (and fsynced) by the caller as `file`, published by a rename. */
  | { suffix: string; file: string };

export class AlreadyExistsError extends Error {}

/**
 * Publishes `partial` as `finalPath` with its sidecars. `beforeRename` runs after the sidecars,
 * right before the commit (an abort check). On failure before the rename, the sidecars written so
 * far are removed (the partial is the caller's); after it, the file stays (only the directory
 * fsync failed, and the file is complete).
 */
export async function publish(o: { partial: string; finalPath: string; sidecars: Sidecar[]; beforeRename?: () => void }): Promise<void> {
  // rename() would silently replace a file that appeared meanwhile; we never overwrite.
  if (await exists(o.finalPath)) throw new AlreadyExistsError(`${o.finalPath} already exists`);
  const written: string[] = [];
  try {
    for (const s of o.sidecars) {
      const p = `${o.finalPath}${s.suffix}`;
      written.push(p);
      if ('file' in s) await rename(s.file, p);
      else await writeFileAtomic(p, s.content);
    }
    o.beforeRename?.();
    await rename(o.partial, o.finalPath);
  } catch (err) {
    await Promise.all(written.map((p) => rm(p, { force: true }).catch(() => undefined)));
    throw err;
  }
  await fsyncDir(path.dirname(o.finalPath));
}

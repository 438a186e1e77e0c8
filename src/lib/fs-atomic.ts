/**
 * Crash-safe file writes: data is fsynced before the rename that publishes it, and the directory is
 * fsynced after, so after a power loss a reader sees either the old file or the complete new one.
 */
import { lstat, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Flush a file's data and metadata to disk. fsync applies to the inode, so any fd will do. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Make a rename/create/unlink inside `dir` durable (the entry lives in the directory, not the file). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some file systems (certain network/FUSE mounts) cannot fsync a directory; there is nothing
    // more we can do there, and failing the backup for it would be worse.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Atomically replace `file` with `data` via `<file>.partial` + rename. A failed write removes the
 * .partial and leaves any previous `file` untouched.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o640): Promise<void> {
  const tmp = `${file}.partial`;
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** lstat-based: a dangling symlink exists too. Errors other than ENOENT are real errors. */
export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

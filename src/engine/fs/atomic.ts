/**
 * Crash-safe file writes: data is fsynced before the rename that publishes it, and the directory is
 * fsynced after, so after a power loss a reader sees either the old file or the complete new one.
 */
import { randomBytes } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
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

/**
 * A write stream on a new file (never an existing one) that exists once this resolves. With
 * `fs.createWriteStream(path)` the file is created asynchronously after the stream exists, and
 * `pipeline()` rejects as soon as one stream fails, without waiting for the file stream to open or
 * close: a caller that then removes its partial file (a refused upload) could do so before the
 * open created it, and the file appeared after the cleanup, left behind (seen in CI).
 */
export async function createNewFileStream(file: string, mode = 0o640): Promise<WriteStream> {
  const fh = await open(file, 'wx', mode);
  return fh.createWriteStream();
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
 * Atomically replace `file` with `data` via a temp file `<file>.<random>.partial` + rename. A failed
 * write removes the temp file and leaves any previous `file` untouched.
 *
 * The temp name is unique per write: two writers of one file (two verifications of one archive
 * recording their outcome) must not truncate or rename each other's temp file; each rename is
 * atomic, so the file ends up as one writer's complete content. Temp files left by a killed
 * process are found with tempFilesOf.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o640): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.partial`;
  try {
    const fh = await open(tmp, 'wx', mode);
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

/** The temp files writeFileAtomic leaves for `file` when its process dies mid-write. */
export async function tempFilesOf(file: string): Promise<string[]> {
  const base = path.basename(file);
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  return names.filter((n) => isTempFileOf(n, base)).map((n) => path.join(path.dirname(file), n));
}

/** `<base>.<12 hex>.partial`. */
export function isTempFileOf(name: string, base: string): boolean {
  return name.startsWith(`${base}.`) && /^\.[0-9a-f]{12}\.partial$/.test(name.slice(base.length));
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

/**
 * `rm -rf` for trees whose names are bytes and whose paths may be longer than PATH_MAX: what a
 * restore leaves behind (the previous data, a staging directory) holds exactly the names a volume
 * holds. Node's own fs.rm lists directories as UTF-8 strings, so a Latin-1 name would "vanish"
 * (ENOENT) and stay behind; this lists them as bytes and goes below deep levels through directory
 * descriptors (see tree-walk.ts). Symlinks are removed, never followed.
 */
import fs, { constants as fsc } from 'node:fs';
import fsp from 'node:fs/promises';
import { quoteName } from '../../core/show-name.js';
import { bin, PATH_REBASE } from './tree-walk.js';

/** Removes `target` (a binary-string path) and everything below it; nothing to do when it does not exist. */
export function removeTree(target: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(bin(target));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) emptyDir(target);
  try {
    if (st.isDirectory()) fs.rmdirSync(bin(target));
    else fs.unlinkSync(bin(target));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove ${quoteName(target)}: ${(err as Error).message}`, { cause: err });
  }
}

/** A plain string path (from config or path.join) as the binary string removeTree takes. */
export function removeTreeAt(p: string): void {
  removeTree(Buffer.from(p).toString('latin1'));
}

/** removeTreeAsync of a plain string path. */
export function removeTreeAtAsync(p: string): Promise<void> {
  return removeTreeAsync(Buffer.from(p).toString('latin1'));
}

function emptyDir(dirPath: string): void {
  let fd: number | undefined;
  if (dirPath.length > PATH_REBASE) {
    fd = fs.openSync(bin(dirPath), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    dirPath = `/proc/self/fd/${fd}`;
  }
  try {
    // A directory we may not write into (a read-only directory of a restored tree, when not root).
    if (process.geteuid?.() !== 0) fs.chmodSync(bin(dirPath), 0o700);
    for (;;) {
      // Listed in batches and re-listed until empty: memory stays bounded for huge directories.
      // (A Buffer path needs Node >= 20.8: 20.1-20.7 throw ERR_INVALID_ARG_TYPE on the first read.)
      const dir = fs.opendirSync(bin(dirPath) as unknown as string, { encoding: 'buffer' as BufferEncoding });
      let removed = 0;
      try {
        for (let d = dir.readSync(); d !== null && removed < 4096; d = dir.readSync()) {
          const child = `${dirPath}/${(d.name as unknown as Buffer).toString('latin1')}`;
          if (d.isDirectory()) {
            emptyDir(child);
            fs.rmdirSync(bin(child));
          } else {
            fs.unlinkSync(bin(child));
          }
          removed++;
        }
      } finally {
        dir.closeSync();
      }
      if (removed === 0) return;
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Unlinks (and directory removals) in flight at once: libuv's threads overlap them across directories. */
const REMOVE_CONCURRENCY = 16;

/**
 * removeTree without blocking the event loop: a restore removes the previous data of a volume
 * (hundreds of thousands of files in a PACS store) while it holds job locks that the event loop
 * must keep renewing. Every call goes through libuv's threads, several at a time, which on 2
 * cores also removes faster than one synchronous loop. Same rules: names as bytes, long paths
 * through directory descriptors, symlinks removed and never followed.
 */
export async function removeTreeAsync(target: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(bin(target));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const slots = new Slots(REMOVE_CONCURRENCY);
  if (st.isDirectory()) await emptyDirAsync(target, slots);
  await removeOne(target, st.isDirectory());
}

async function removeOne(target: string, directory: boolean): Promise<void> {
  try {
    if (directory) await fsp.rmdir(bin(target));
    else await fsp.unlink(bin(target));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove ${quoteName(target)}: ${(err as Error).message}`, { cause: err });
  }
}

async function emptyDirAsync(dirPath: string, slots: Slots): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  if (dirPath.length > PATH_REBASE) {
    handle = await fsp.open(bin(dirPath), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    dirPath = `/proc/self/fd/${handle.fd}`;
  }
  try {
    if (process.geteuid?.() !== 0) await fsp.chmod(bin(dirPath), 0o700);
    for (;;) {
      const dir = await fsp.opendir(bin(dirPath) as unknown as string, { encoding: 'buffer' as BufferEncoding });
      const pending: Promise<void>[] = [];
      let failure: unknown;
      try {
        for (let d = await dir.read(); d !== null && pending.length < 4096 && failure === undefined; d = await dir.read()) {
          const child = `${dirPath}/${(d.name as unknown as Buffer).toString('latin1')}`;
          if (d.isDirectory()) {
            // Subdirectories one after another (their own files run in parallel): bounded fds.
            await emptyDirAsync(child, slots);
            await slots.run(() => removeOne(child, true));
          } else {
            pending.push(slots.start(() => removeOne(child, false)).catch((err: unknown) => void (failure ??= err)));
            await slots.free();
          }
        }
      } finally {
        await Promise.all(pending);
        await dir.close();
      }
      if (failure !== undefined) throw failure;
      if (pending.length === 0 && !(await hasEntries(dirPath))) return;
    }
  } finally {
    await handle?.close();
  }
}

async function hasEntries(dirPath: string): Promise<boolean> {
  const dir = await fsp.opendir(bin(dirPath) as unknown as string, { encoding: 'buffer' as BufferEncoding });
  try {
    return (await dir.read()) !== null;
  } finally {
    await dir.close();
  }
}

/** At most `size` operations in flight. */
class Slots {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly size: number) {}
  /** Resolves when a slot is free. */
  async free(): Promise<void> {
    while (this.active >= this.size) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  /** Starts `fn` in a slot now (call after free()). */
  start(fn: () => Promise<void>): Promise<void> {
    this.active++;
    return fn().finally(() => {
      this.active--;
      this.waiters.shift()?.();
    });
  }
  async run(fn: () => Promise<void>): Promise<void> {
    await this.free();
    await this.start(fn);
  }
}

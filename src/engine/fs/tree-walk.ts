/**
 * Depth-first walk of a directory tree that never follows symlinks (except the root itself, like
 * `tar -C <dir> .`) and never skips an entry silently.
 *
 * Names are bytes: directories are read with `encoding: 'buffer'`, and paths travel as binary
 * strings (one char per byte), so a Latin-1 name such as `Bericht_M\xfcller.txt` is listed,
 * opened and archived under its exact bytes. (String APIs would turn it into U+FFFD, and the file
 * would then "vanish" with ENOENT.)
 *
 * Every directory is opened once (O_DIRECTORY, and O_NOFOLLOW below the root), its descriptor
 * checked against the lstat that described it, and read and looked into only through
 * `/proc/self/fd/<fd>/…` (the kernel resolves that like openat(2) from the descriptor). So what the
 * walk reads is always inside the directory it described, as GNU tar's openat walk does: a
 * directory swapped for a symlink to somewhere else while the walk runs (someone with write access
 * to a share, racing the backup that runs as root) cannot lead it out of the volume; the swap is a
 * warning (`onChanged`) and that directory's contents stay out of the archive. Paths stay short at
 * any depth (no PATH_MAX limit); the cost is one descriptor per level of the current path.
 *
 * A live tree (a running database) changes while it is walked. An entry that cannot be read is a
 * warning (`onVanished`) only when a fresh lstat confirms it is gone; any other failure (EACCES,
 * EIO, …) throws with the entry's name, escaped.
 *
 * Memory is bounded by the depth of the tree and the size of one directory's listing (huge
 * directories are streamed 32 names at a time), not by the size of the tree.
 */
import fs, { constants as fsc, type Dirent, type Stats } from 'node:fs';
import { quoteName } from '../../core/show-name.js';

export interface WalkEntry {
  /** As stored in a tar made with `tar -C root .`: "." for the root, then "./a", "./a/b" (binary string). */
  rel: string;
  /**
   * A path the kernel accepts for this entry (binary string): `/proc/self/fd/N/name`, relative to
   * its directory's descriptor, valid until the walk moves past the entry (the descriptor is closed
   * then, and its number may be reused): use it before asking for the next entry.
   */
  path: string;
  /**
   * lstat of the entry; undefined for what readdir reported as a regular file when `statFiles` is
   * false (the caller opens it and fstats the descriptor instead, saving a syscall per file).
   */
  stat: Stats | undefined;
}

export interface WalkOptions {
  /** lstat regular files too (default true). */
  statFiles?: boolean;
  /**
   * Exact names directly below the root to leave out (binary strings). Only for a restore's own
   * work directory while its safety backup runs: never a pattern, so no user name can match it.
   */
  skipTop?: ReadonlySet<string>;
  /** An entry listed by readdir was confirmed gone when we looked at it. */
  onVanished?: (rel: string, code: string) => void;
  /** A directory was replaced (by a symlink, a file or another directory) between its lstat and its opening; its contents were left out. */
  onChanged?: (rel: string, message: string) => void;
  signal?: AbortSignal;
}

/** Full paths longer than this continue from a directory descriptor (PATH_MAX is 4096, a name up to 255). */
export const PATH_REBASE = 3800;

/** Directories up to this size (bytes of the directory inode, ~8,000 names on ext4) are read in one call. */
const READDIR_WHOLE_MAX = 256 * 1024;

/** A binary string as the Buffer path fs calls take. */
export function bin(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

/** ENOENT/ENOTDIR: something on the path is not there (any more). */
export function isGoneError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Whether the entry at `p` is really gone: a fresh lstat says so. */
export function confirmedGone(p: string): boolean {
  try {
    fs.lstatSync(bin(p));
    return false;
  } catch (err) {
    return isGoneError(err);
  }
}

export class WalkError extends Error {}

export function walkError(rel: string, what: string, err: unknown): WalkError {
  const e = err as NodeJS.ErrnoException;
  // Node's "EACCES: permission denied, open '/proc/self/fd/22/b'": the reason, without the code
  // twice and the descriptor path the walk opened it by (the name is given already).
  const reason = e.code ? `${e.message.replace(/^[A-Z0-9_]+: /, '').replace(/, \w+ '[\s\S]*'$/, '')} (${e.code})` : e.message;
  return new WalkError(`cannot ${what} ${quoteName(rel)}: ${reason}`, { cause: err });
}

/** Yields the root first, then every entry in pre-order (a directory before its contents). */
export function* walkTree(root: string, opts: WalkOptions = {}): Generator<WalkEntry> {
  const statFiles = opts.statFiles ?? true;
  const rootPath = Buffer.from(root).toString('latin1');
  const rootStat = fs.statSync(bin(rootPath));
  yield { rel: '.', path: rootPath, stat: rootStat };
  if (rootStat.isDirectory()) yield* walkDir(rootPath, '.', rootStat);

  /** The names in the directory open as `dirPath` (a descriptor's /proc path, so nothing can be swapped in between). */
  function* names(dirPath: string, rel: string, st: Stats): Generator<Dirent<Buffer>> {
    if (st.size <= READDIR_WHOLE_MAX) {
      let list: Dirent<Buffer>[];
      try {
        list = fs.readdirSync(bin(dirPath), { withFileTypes: true, encoding: 'buffer' });
      } catch (err) {
        throw walkError(rel, 'read directory', err);
      }
      yield* list;
      return;
    }
    let dir: fs.Dir;
    try {
      dir = fs.opendirSync(bin(dirPath) as unknown as string, { encoding: 'buffer' as BufferEncoding });
    } catch (err) {
      throw walkError(rel, 'open directory', err);
    }
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) yield d as unknown as Dirent<Buffer>;
    } catch (err) {
      throw walkError(rel, 'read directory', err);
    } finally {
      dir.closeSync();
    }
  }

  /**
   * A descriptor of the directory at `dirPath` that is the one `described` (same device and inode),
   * or undefined (with a warning) when it vanished or was replaced since. The root is opened like
   * `tar -C`: following a symlink.
   */
  function openDescribed(dirPath: string, rel: string, described: Stats): number | undefined {
    let fd: number;
    try {
      fd = fs.openSync(bin(dirPath), fsc.O_RDONLY | fsc.O_DIRECTORY | (rel === '.' ? 0 : fsc.O_NOFOLLOW));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (rel === '.' || !(isGoneError(err) || code === 'ELOOP')) throw walkError(rel, 'open directory', err);
      let now: Stats;
      try {
        now = fs.lstatSync(bin(dirPath));
      } catch (again) {
        if (isGoneError(again)) {
          opts.onVanished?.(rel, (again as NodeJS.ErrnoException).code ?? 'ENOENT');
          return undefined;
        }
        throw walkError(rel, 'read', again);
      }
      if (now.isDirectory()) throw walkError(rel, 'open directory', err);
      opts.onChanged?.(rel, `was replaced by a ${now.isSymbolicLink() ? 'symlink' : 'non-directory'} while being archived; its contents are not in this archive`);
      return undefined;
    }
    const st = fs.fstatSync(fd);
    if (st.dev !== described.dev || st.ino !== described.ino) {
      fs.closeSync(fd);
      opts.onChanged?.(rel, 'was replaced by another directory while being archived; its contents are not in this archive');
      return undefined;
    }
    return fd;
  }

  function* walkDir(dirPath: string, rel: string, dirStat: Stats): Generator<WalkEntry> {
    const fd = openDescribed(dirPath, rel, dirStat);
    if (fd === undefined) return;
    const at = `/proc/self/fd/${fd}`;
    try {
      for (const dirent of names(at, rel, dirStat)) {
        opts.signal?.throwIfAborted();
        const name = dirent.name.toString('latin1');
        if (rel === '.' && opts.skipTop?.has(name)) continue;
        const childPath = `${at}/${name}`;
        const childRel = `${rel}/${name}`;
        if (!statFiles && dirent.isFile()) {
          yield { rel: childRel, path: childPath, stat: undefined };
          continue;
        }
        let st: Stats;
        try {
          st = fs.lstatSync(bin(childPath));
        } catch (err) {
          // lstat is itself the fresh look: ENOENT means gone.
          if (isGoneError(err)) {
            opts.onVanished?.(childRel, (err as NodeJS.ErrnoException).code ?? 'ENOENT');
            continue;
          }
          throw walkError(childRel, 'read', err);
        }
        yield { rel: childRel, path: childPath, stat: st };
        if (st.isDirectory()) yield* walkDir(childPath, childRel, st);
      }
      // As GNU tar's "file changed as we read it" for a directory: a name added, removed or renamed
      // in it while it was read changes its ctime, and the archive holds the listing of before.
      const after = fs.fstatSync(fd);
      if (after.ctimeMs !== dirStat.ctimeMs || after.mtimeMs !== dirStat.mtimeMs) {
        opts.onChanged?.(rel, 'changed while it was archived (a name added, removed or renamed in it): what came or went meanwhile may be missing or left over in this archive');
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Depth-first walk of a directory tree that never follows symlinks (except the root itself, like
 * `tar -C <dir> .`) and never skips an entry silently.
 *
 * Names are bytes: directories are read with `encoding: 'buffer'`, and paths travel as binary
 * strings (one char per byte), so a Latin-1 name such as `Bericht_M\xfcller.txt` is listed,
 * opened and archived under its exact bytes. (String APIs would turn it into U+FFFD, and the file
 * would then "vanish" with ENOENT.)
 *
 * Paths longer than PATH_MAX: each entry comes with a `path` that the kernel accepts. Below a
 * depth where the full path would come near PATH_MAX, the walker opens the directory and continues
 * from `/proc/self/fd/<fd>/…` (the kernel resolves it like openat(2) from that descriptor), so a
 * tree of any depth is walked with one extra descriptor per deep level, closed on the way back.
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
  /** A path the kernel accepts for this entry (binary string; `/proc/self/fd/N/name` below deep levels). */
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
  return new WalkError(`cannot ${what} ${quoteName(rel)}: ${e.code ?? ''} ${e.message}`.replace(/: {2}/, ': '), { cause: err });
}

/** Yields the root first, then every entry in pre-order (a directory before its contents). */
export function* walkTree(root: string, opts: WalkOptions = {}): Generator<WalkEntry> {
  const statFiles = opts.statFiles ?? true;
  const rootPath = Buffer.from(root).toString('latin1');
  const rootStat = fs.statSync(bin(rootPath));
  yield { rel: '.', path: rootPath, stat: rootStat };
  if (rootStat.isDirectory()) yield* walkDir(rootPath, '.', rootStat);

  function* names(dirPath: string, rel: string, st: Stats): Generator<Dirent<Buffer>> {
    const fail = (err: unknown, what: string) => {
      if (rel !== '.' && isGoneError(err) && confirmedGone(dirPath)) {
        opts.onVanished?.(rel, (err as NodeJS.ErrnoException).code ?? 'ENOENT');
        return;
      }
      throw walkError(rel, what, err);
    };
    if (st.size <= READDIR_WHOLE_MAX) {
      let list: Dirent<Buffer>[];
      try {
        list = fs.readdirSync(bin(dirPath), { withFileTypes: true, encoding: 'buffer' });
      } catch (err) {
        fail(err, 'read directory');
        return;
      }
      yield* list;
      return;
    }
    let dir: fs.Dir;
    try {
      dir = fs.opendirSync(bin(dirPath) as unknown as string, { encoding: 'buffer' as BufferEncoding });
    } catch (err) {
      fail(err, 'open directory');
      return;
    }
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) yield d as unknown as Dirent<Buffer>;
    } catch (err) {
      throw walkError(rel, 'read directory', err);
    } finally {
      dir.closeSync();
    }
  }

  function* walkDir(dirPath: string, rel: string, dirStat: Stats): Generator<WalkEntry> {
    // Near PATH_MAX: continue from a descriptor of this directory, opened without following a
    // symlink that may have replaced it since its lstat.
    let fd: number | undefined;
    if (dirPath.length > PATH_REBASE) {
      try {
        fd = fs.openSync(bin(dirPath), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
      } catch (err) {
        if (isGoneError(err) && confirmedGone(dirPath)) {
          opts.onVanished?.(rel, (err as NodeJS.ErrnoException).code ?? 'ENOENT');
          return;
        }
        throw walkError(rel, 'open directory', err);
      }
      dirPath = `/proc/self/fd/${fd}`;
    }
    try {
      for (const dirent of names(dirPath, rel, dirStat)) {
        opts.signal?.throwIfAborted();
        const name = dirent.name.toString('latin1');
        if (rel === '.' && opts.skipTop?.has(name)) continue;
        const childPath = `${dirPath}/${name}`;
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
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

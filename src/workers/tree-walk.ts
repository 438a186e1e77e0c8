/**
 * Streaming depth-first walk of a directory tree that never follows symlinks (except the root itself,
 * like `tar -C <dir> .`). Memory is bounded by the depth of the tree, not its size: one open Dir
 * handle per level, read in small batches.
 *
 * The tree may be live (a running database), so entries that disappear between readdir and lstat are
 * reported through onVanished and skipped instead of failing the walk. Errors on the root are real.
 *
 * Two flavours with the same semantics: `walkTree` (promises) and `walkTreeSync` (a plain generator
 * over synchronous calls). The archive writer uses the synchronous one: its compression jobs fill
 * the libuv threadpool, where every async lstat would queue behind a chunk being compressed, while
 * a synchronous lstat of a cached inode takes a microsecond or two.
 */
import { lstatSync, opendirSync, readdirSync, statSync, type Dir, type Dirent, type Stats } from 'node:fs';
import { lstat, opendir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface WalkEntry {
  /** Path as stored in a tar made with `tar -C root .`: "." for the root, then "./a", "./a/b". */
  rel: string;
  abs: string;
  stat: Stats;
}

export interface WalkOptions {
  /** Top-level names (directly below the root) to skip; a trailing "*" makes it a prefix match. */
  excludeNames?: readonly string[];
  /** An entry listed by readdir was gone (or no longer a directory) when we looked at it. */
  onVanished?: (rel: string, err: NodeJS.ErrnoException) => void;
  signal?: AbortSignal;
}

/** ENOENT/ENOTDIR on something that existed a moment ago: the tree changed under us. */
export function isVanishedError(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function nameMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

/** Yields the root first, then every entry in pre-order (a directory before its contents). */
export async function* walkTree(root: string, opts: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  const excluded = nameMatcher(opts.excludeNames ?? []);
  const rootStat = await stat(root);
  yield { rel: '.', abs: root, stat: rootStat };
  if (rootStat.isDirectory()) yield* walkDir(root, '.');

  async function* walkDir(abs: string, rel: string): AsyncGenerator<WalkEntry> {
    const isRoot = rel === '.';
    let dir;
    try {
      dir = await opendir(abs);
    } catch (err) {
      if (!isRoot && isVanishedError(err)) {
        opts.onVanished?.(rel, err);
        return;
      }
      throw err;
    }
    // for-await closes the Dir when the loop ends, throws, or the consumer stops early.
    for await (const dirent of dir) {
      opts.signal?.throwIfAborted();
      if (isRoot && excluded(dirent.name)) continue;
      const childAbs = path.join(abs, dirent.name);
      const childRel = `${rel}/${dirent.name}`;
      let st: Stats;
      try {
        st = await lstat(childAbs);
      } catch (err) {
        if (isVanishedError(err)) {
          opts.onVanished?.(childRel, err);
          continue;
        }
        throw err;
      }
      yield { rel: childRel, abs: childAbs, stat: st };
      if (st.isDirectory()) yield* walkDir(childAbs, childRel);
    }
  }
}

export interface SyncWalkEntry {
  rel: string;
  abs: string;
  /**
   * lstat of the entry; undefined for what readdir reported as a regular file when `statFiles` is
   * false (the caller opens it and fstats the descriptor instead, saving a syscall per file).
   */
  stat: Stats | undefined;
}

export interface SyncWalkOptions extends WalkOptions {
  /** lstat regular files too (default true). */
  statFiles?: boolean;
}

/** Directories up to this size (bytes of the directory inode, ~8,000 names on ext4) are read in one call. */
const READDIR_WHOLE_MAX = 256 * 1024;

/**
 * Like walkTree, with synchronous calls. A directory is listed with one readdir call when it is not
 * huge (opening a Dir handle and reading it in batches costs ~4 syscalls and some JavaScript per
 * directory, which adds up for thousands of small ones), else streamed from a Dir handle 32 names
 * at a time, so memory stays bounded.
 */
export function* walkTreeSync(root: string, opts: SyncWalkOptions = {}): Generator<SyncWalkEntry> {
  const excluded = nameMatcher(opts.excludeNames ?? []);
  const statFiles = opts.statFiles ?? true;
  const rootStat = statSync(root);
  yield { rel: '.', abs: root, stat: rootStat };
  if (rootStat.isDirectory()) yield* walkDir(root, '.', rootStat);

  function* names(abs: string, rel: string, st: Stats): Generator<Dirent> {
    if (st.size <= READDIR_WHOLE_MAX) {
      let list: Dirent[];
      try {
        list = readdirSync(abs, { withFileTypes: true });
      } catch (err) {
        if (rel !== '.' && isVanishedError(err)) {
          opts.onVanished?.(rel, err);
          return;
        }
        throw err;
      }
      yield* list;
      return;
    }
    let dir: Dir;
    try {
      dir = opendirSync(abs);
    } catch (err) {
      if (rel !== '.' && isVanishedError(err)) {
        opts.onVanished?.(rel, err);
        return;
      }
      throw err;
    }
    try {
      for (let dirent = dir.readSync(); dirent !== null; dirent = dir.readSync()) yield dirent;
    } finally {
      dir.closeSync();
    }
  }

  function* walkDir(abs: string, rel: string, dirStat: Stats): Generator<SyncWalkEntry> {
    const isRoot = rel === '.';
    for (const dirent of names(abs, rel, dirStat)) {
      opts.signal?.throwIfAborted();
      if (isRoot && excluded(dirent.name)) continue;
      const childAbs = path.join(abs, dirent.name);
      const childRel = `${rel}/${dirent.name}`;
      if (!statFiles && dirent.isFile()) {
        yield { rel: childRel, abs: childAbs, stat: undefined };
        continue;
      }
      let st: Stats;
      try {
        st = lstatSync(childAbs);
      } catch (err) {
        if (isVanishedError(err)) {
          opts.onVanished?.(childRel, err);
          continue;
        }
        throw err;
      }
      yield { rel: childRel, abs: childAbs, stat: st };
      if (st.isDirectory()) yield* walkDir(childAbs, childRel, st);
    }
  }
}

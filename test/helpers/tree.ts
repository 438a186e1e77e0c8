/**
 * Snapshot a directory tree (without following symlinks) and compare two snapshots, e.g. a volume
 * and what `tar -x` made of its archive. Content is hashed in a stream, so big files are fine.
 * Names are bytes: keys and link targets are binary strings (one char per byte; plain ASCII names
 * read as usual), so a Latin-1 name is compared exactly. (Trees deeper than PATH_MAX need
 * tree-snapshot.py, which walks with directory descriptors.)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits incl. setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for files, 0 otherwise. */
  size: number;
  /** Whole seconds, which is what a plain ustar header keeps. */
  mtime: number;
  /** Hex sha256 of a file's content. */
  sha256?: string;
  /** Symlink target as stored (not resolved), as a binary string. */
  target?: string;
}

/** Keys are POSIX paths relative to `dir` (binary strings): "." for the root, then "a", "a/b". */
export async function snapshotTree(dir: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  async function visit(abs: Buffer, rel: string): Promise<void> {
    const st = await lstat(abs);
    const entry: TreeEntry = {
      type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.isFile() ? st.size : 0,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (entry.type === 'file') entry.sha256 = await hashFile(abs);
    if (entry.type === 'symlink') entry.target = (await readlink(abs, { encoding: 'buffer' })).toString('latin1');
    out.set(rel, entry);
    if (entry.type === 'dir') {
      const names = (await readdir(abs, { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
      for (const name of names) {
        await visit(Buffer.concat([abs, Buffer.from('/'), Buffer.from(name, 'latin1')]), rel === '.' ? name : `${rel}/${name}`);
      }
    }
  }
  await visit(Buffer.from(path.resolve(dir)), '.');
  return out;
}

export async function hashFile(file: string | Buffer): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export interface CompareOptions {
  /** Fields to ignore for one path, e.g. `(p) => (p === '.' ? ['mtime'] : [])`. */
  ignore?: (relPath: string, entry: TreeEntry) => readonly (keyof TreeEntry)[];
}

/** Same paths, and for each path the same type, mode, owner, size, mtime, content and link target. */
export function assertSameTree(
  expected: Map<string, TreeEntry>,
  actual: Map<string, TreeEntry>,
  opts: CompareOptions = {},
): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), 'trees contain different paths');
  for (const [p, want] of expected) {
    const got = actual.get(p);
    assert.ok(got, `missing ${p}`);
    const ignored = new Set(opts.ignore?.(p, want) ?? []);
    const strip = (e: TreeEntry) =>
      Object.fromEntries(Object.entries(e).filter(([k]) => !ignored.has(k as keyof TreeEntry)));
    assert.deepEqual(strip(got), strip(want), `entry ${p} differs`);
  }
}

/** For a staging directory compared with the volume: the root's own mode, owner and mtime differ (rootMeta carries them). */
export const ignoreRoot = (p: string) => (p === '.' ? (['mode', 'uid', 'gid', 'mtime'] as const) : []);

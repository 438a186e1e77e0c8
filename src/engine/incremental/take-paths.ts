/**
 * A single-file restore from an incremental archive: the chain is first restored whole into
 * `<work>/chain` (restore-chain.ts: the full, then each incremental applied by GNU tar, so the
 * deletions and renames mean exactly what GNU tar makes of them), and this then moves the chosen
 * paths out of it into `<work>/tree`, the layout the rest of a single-file restore expects
 * (place-paths.ts): the chosen paths at their places and their parent directories, which get the
 * mode, owner and times the backup gave them. A rename moves a whole subtree at once, keeps hard
 * links between chosen files, and costs no copy. Nothing is moved unless every chosen path is
 * there. Paths are binary strings (one char per byte), used as Buffers at every syscall.
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import { IS_ROOT } from '../extract/owner.js';

/** `base/rel` with rel's exact bytes. */
function at(base: string, rel: string): Buffer {
  return rel === '' ? Buffer.from(base) : Buffer.concat([Buffer.from(base), Buffer.from('/'), Buffer.from(rel, 'latin1')]);
}

function parentsOf(rel: string): string[] {
  const out: string[] = [];
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) out.push(rel.slice(0, i));
  return out;
}

export interface TakenPaths {
  /** Chosen paths that the restored chain does not hold; when any, nothing was moved. */
  missing: string[];
  /** Regular files at or below the chosen paths. */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Mode bits of the chain's root (the volume root as the backup has it). */
  rootMode: number;
}

/**
 * Moves `paths` (none inside another) from `chainDir` to the same places under `treeDir` (which
 * must not exist), creating their parent directories with the backup's metadata.
 */
export async function takeChosenPaths(chainDir: string, treeDir: string, paths: readonly string[]): Promise<TakenPaths> {
  const root = await fs.lstat(chainDir);
  const missing: string[] = [];
  for (const p of paths) {
    if (!(await fs.lstat(at(chainDir, p)).catch(() => undefined))) missing.push(p);
  }
  const result: TakenPaths = { missing, files: 0, bytes: 0, rootMode: root.mode & 0o7777 };
  if (missing.length) return result;

  await fs.mkdir(treeDir, { mode: 0o700 });
  // Outermost first, so each parent exists before its children. Their metadata is read now: moving
  // the children out changes the mtimes in the chain, and moving them in those in the tree.
  const dirs = [...new Set(paths.flatMap(parentsOf))].sort((a, b) => a.split('/').length - b.split('/').length);
  const meta = new Map<string, Stats>([['', root]]);
  for (const d of dirs) {
    const st = await fs.lstat(at(chainDir, d));
    if (!st.isDirectory()) throw new Error(`the restored backup has no directory ${JSON.stringify(d)} above a chosen path`);
    meta.set(d, st);
    await fs.mkdir(at(treeDir, d), { mode: 0o700 });
  }
  for (const p of paths) {
    await fs.rename(at(chainDir, p), at(treeDir, p));
    const counted = await countFiles(at(treeDir, p));
    result.files += counted.files;
    result.bytes += counted.bytes;
  }
  // Innermost first; the root last.
  for (const d of [...dirs].reverse()) await copyMeta(meta.get(d)!, at(treeDir, d));
  await copyMeta(root, Buffer.from(treeDir));
  return result;
}

async function copyMeta(st: Stats, to: Buffer): Promise<void> {
  if (IS_ROOT) await fs.lchown(to, st.uid, st.gid);
  await fs.chmod(to, st.mode & 0o7777);
  await fs.utimes(to, st.atime, st.mtime);
}

/** Regular files and their bytes at or below each of `paths` in `treeDir` (what a restore of them put there). */
export async function countChosen(treeDir: string, paths: readonly string[]): Promise<{ files: number; bytes: number }> {
  const total = { files: 0, bytes: 0 };
  for (const p of paths) {
    const c = await countFiles(at(treeDir, p));
    total.files += c.files;
    total.bytes += c.bytes;
  }
  return total;
}

/** Regular files and their bytes at or below `p` (not following symlinks). */
async function countFiles(p: Buffer): Promise<{ files: number; bytes: number }> {
  const st = await fs.lstat(p);
  if (st.isFile()) return { files: 1, bytes: st.size };
  if (!st.isDirectory()) return { files: 0, bytes: 0 };
  let files = 0;
  let bytes = 0;
  const stack: Buffer[] = [p];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const child = Buffer.concat([dir, Buffer.from('/'), e.name]);
      if (e.isDirectory()) stack.push(child);
      else if (e.isFile()) {
        files++;
        bytes += (await fs.lstat(child)).size;
      }
    }
  }
  return { files, bytes };
}

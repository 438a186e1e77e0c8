/**
 * Putting a single-file restore's staged paths (work-dir.ts: `tree/` holds the chosen paths at
 * their places, their parent directories, and hard link targets they needed) into the volume:
 *
 * beside    the staged tree, without the extra link targets, becomes the new folder
 *           `<volume>/<folder>` by one rename: it appears whole or not at all, and nothing that
 *           was in the volume is touched. A taken name gets "-2", "-3", … .
 * in place  `paths.json` (the chosen paths and the parent directories to create) is written
 *           first; then per path the live entry (if any) moves into old/ and the staged one into
 *           its place; then the commit marker. Any failure, or a crash (recovery.ts at the next
 *           start), before the marker rolls every path back; after it, old/ is removed. Live
 *           parent directories must be real directories: a symlink among them could lead the
 *           rename out of the volume, so it is refused before anything moves.
 * Paths are binary strings (one char per byte), used as Buffers at every syscall. The caller flushes
 * the volume's file system first (restore-files.ts, flushFileSystems): the staged data must be on
 * disk before it replaces anything or appears as a folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { quoteName } from '../../core/show-name.js';
import { fsyncDir, writeFileAtomic } from '../fs/atomic.js';
import { removeTreeAsync } from '../fs/remove-tree.js';
import { asBin, exists, isOurs, SWAPPED_MARKER, workDirName } from './work-dir.js';

export const PATHS_JOURNAL = 'paths.json';

/** `base/rel` with rel's exact bytes. */
function at(base: string, rel: string): Buffer {
  return Buffer.concat([Buffer.from(base), Buffer.from('/'), Buffer.from(rel, 'latin1')]);
}

function parents(rel: string): string[] {
  const out: string[] = [];
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) out.push(rel.slice(0, i));
  return out;
}

async function workOf(volumeDir: string, id: string): Promise<{ work: string; tree: string; old: string }> {
  const work = path.join(volumeDir, workDirName(id));
  if (!(await isOurs(work, id))) throw new Error(`${work} is not the work directory of restore ${id}`);
  return { work, tree: path.join(work, 'tree'), old: path.join(work, 'old') };
}

/**
 * Beside: drop the `extras` (hard link targets outside the chosen paths) and directories they
 * leave empty, then rename the staged tree to the first free `<folder>[-n]`; returns that name.
 */
export async function placeBeside(volumeDir: string, id: string, o: { folder: string; extras: Iterable<string>; keepDirs: ReadonlySet<string>; mode: number }): Promise<string> {
  const { work, tree } = await workOf(volumeDir, id);
  for (const extra of o.extras) {
    await fs.rm(at(tree, extra), { force: true });
    for (const dir of parents(extra).reverse()) {
      if (o.keepDirs.has(dir)) break;
      await fs.rmdir(at(tree, dir)).catch(() => undefined); // only when empty
    }
  }
  await fs.chmod(tree, o.mode & 0o7777);
  for (let n = 1; ; n++) {
    const name = n === 1 ? o.folder : `${o.folder}-${n}`;
    const target = path.join(volumeDir, name);
    if (await exists(target)) continue;
    try {
      // A name taken meanwhile by an empty directory would be replaced by rename(): mkdir claims it.
      await fs.mkdir(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    await fs.rename(tree, target);
    await fsyncDir(volumeDir);
    await removeTreeAsync(asBin(work));
    await fsyncDir(volumeDir);
    return name;
  }
}

interface PathsJournal {
  id: string;
  /** Chosen paths, hex of their bytes, in the order they are swapped. */
  paths: string[];
  /** Parent directories the swap creates in the volume (they did not exist), hex, outermost first. */
  made: string[];
}

/** The live entry at `rel`'s parents must be directories (or missing); refused before anything moves. */
async function checkParents(volumeDir: string, rel: string): Promise<string[]> {
  const missing: string[] = [];
  for (const dir of parents(rel)) {
    const st = await fs.lstat(at(volumeDir, dir)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (st === undefined) missing.push(dir);
    else if (!st.isDirectory()) {
      throw new Error(`${quoteName(dir)} in the volume is a ${st.isSymbolicLink() ? 'symlink' : 'file'}, not a directory: ${quoteName(rel)} cannot be restored in place (restore it beside instead)`);
    }
  }
  return missing;
}

/** In place: swap each chosen path (see the module comment). Leaves the committed work directory for finishCommitted. */
export async function swapPaths(volumeDir: string, id: string, paths: readonly string[], o: { failAfter?: number } = {}): Promise<{ replaced: number; added: number }> {
  const { work, tree, old } = await workOf(volumeDir, id);
  if (await exists(old)) throw new Error(`${old} already exists (an interrupted restore with this id); it is recovered when the worker restarts`);
  const made = new Set<string>();
  for (const p of paths) {
    if (!(await exists(at(tree, p)))) throw new Error(`${quoteName(p)} was not extracted from the archive`);
    for (const dir of await checkParents(volumeDir, p)) made.add(dir);
  }
  const journal: PathsJournal = { id, paths: paths.map(hex), made: [...made].sort((a, b) => a.length - b.length).map(hex) };
  await writeFileAtomic(path.join(work, PATHS_JOURNAL), `${JSON.stringify(journal)}\n`, 0o600);
  await fs.mkdir(old, { mode: 0o700 });
  let replaced = 0;
  let added = 0;
  try {
    for (const dir of [...made].sort((a, b) => a.length - b.length)) {
      // With the archive's mode and owner (the staged copy has them).
      const staged = await fs.lstat(at(tree, dir));
      await fs.mkdir(at(volumeDir, dir), { mode: staged.mode & 0o7777 });
      await fs.chmod(at(volumeDir, dir), staged.mode & 0o7777);
      if (process.geteuid?.() === 0) await fs.chown(at(volumeDir, dir), staged.uid, staged.gid);
    }
    let done = 0;
    for (const p of paths) {
      if (o.failAfter === done) throw new Error(`test hook: swap failed after ${done} paths`);
      if (await exists(at(volumeDir, p))) {
        const parent = parents(p).at(-1);
        if (parent !== undefined) await fs.mkdir(at(old, parent), { recursive: true, mode: 0o700 });
        await fs.rename(at(volumeDir, p), at(old, p));
        replaced++;
      } else added++;
      await fs.rename(at(tree, p), at(volumeDir, p));
      done++;
    }
    await fsyncDir(volumeDir);
    await writeFileAtomic(path.join(work, SWAPPED_MARKER), `${new Date().toISOString()}\n`, 0o600);
  } catch (err) {
    try {
      await rollBackPaths(volumeDir, id);
    } catch (rbErr) {
      throw new Error(
        `restoring the paths in place failed (${(err as Error).message}) and the rollback is incomplete (${(rbErr as Error).message}); ` +
          `what is not back in the volume is kept in ${old} and put back when the worker restarts`,
        { cause: rbErr },
      );
    }
    throw new Error(`restoring the paths in place failed, every path was put back as it was (${(err as Error).message})`, { cause: err });
  }
  return { replaced, added };
}

/**
 * Undo an uncommitted in-place swap from its journal: a restored path goes back into tree/, the
 * original out of old/ into its place, created parents are removed when empty; then the work
 * directory goes, unless an original could not be put back (it stays in old/).
 */
export async function rollBackPaths(volumeDir: string, id: string): Promise<{ putBack: number }> {
  const { work, tree, old } = await workOf(volumeDir, id);
  if (await exists(path.join(work, SWAPPED_MARKER))) await fs.rm(path.join(work, SWAPPED_MARKER));
  const journal = JSON.parse(await fs.readFile(path.join(work, PATHS_JOURNAL), 'utf8')) as PathsJournal;
  const paths = journal.paths.map(unhex);
  const problems: string[] = [];
  let putBack = 0;
  for (const p of [...paths].reverse()) {
    try {
      if (!(await exists(at(tree, p))) && (await exists(at(volumeDir, p)))) {
        const parent = parents(p).at(-1);
        if (parent !== undefined) await fs.mkdir(at(tree, parent), { recursive: true });
        await fs.rename(at(volumeDir, p), at(tree, p));
      }
      if (await exists(at(old, p))) {
        if (await exists(at(volumeDir, p))) problems.push(`${quoteName(p)}: the name is taken in the volume`);
        else {
          await fs.rename(at(old, p), at(volumeDir, p));
          putBack++;
        }
      }
    } catch (err) {
      problems.push(`${quoteName(p)}: ${(err as Error).message}`);
    }
  }
  for (const dir of journal.made.map(unhex).reverse()) await fs.rmdir(at(volumeDir, dir)).catch(() => undefined);
  await fsyncDir(volumeDir);
  if (problems.length) throw new Error(problems.join('; '));
  if ((await exists(old)) && (await holdsFiles(old))) throw new Error(`${old} still holds original data`);
  await removeTreeAsync(asBin(work));
  await fsyncDir(volumeDir);
  return { putBack };
}

async function holdsFiles(dir: string | Buffer): Promise<boolean> {
  for (const e of await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const p = Buffer.concat([Buffer.from(dir), Buffer.from('/'), e.name]);
    if (!e.isDirectory() || (await holdsFiles(p))) return true;
  }
  return false;
}

function hex(bin: string): string {
  return Buffer.from(bin, 'latin1').toString('hex');
}

function unhex(h: string): string {
  return Buffer.from(h, 'hex').toString('latin1');
}

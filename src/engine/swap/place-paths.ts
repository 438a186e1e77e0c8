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
 *           rename out of the volume, so it is refused before anything moves — and as a share
 *           user can swap a directory for a symlink at any time, every rename in the volume goes
 *           through its parent opened component by component with O_NOFOLLOW (liveParent), never
 *           through the path again.
 * The work directory is used through its descriptor (openWorkDir): a user who renames it away and
 * puts their own in its place reaches nothing.
 * Paths are binary strings (one char per byte), used as Buffers at every syscall. The caller flushes
 * the volume's file system first (restore-files.ts, flushFileSystems): the staged data must be on
 * disk before it replaces anything or appears as a folder.
 */
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { quoteName } from '../../core/show-name.js';
import { fsyncDir, writeFileAtomic } from '../fs/atomic.js';
import { exists, openWorkDir, removeOpenedWorkDir, SWAPPED_MARKER, workDirName } from './work-dir.js';

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

/** The work directory through its descriptor (work-dir.ts openWorkDir), and `fn` with its tree/ and old/. */
async function withWork<T>(volumeDir: string, id: string, fn: (w: { work: string; tree: string; old: string; remove: () => Promise<void> }) => Promise<T>): Promise<T> {
  const w = await openWorkDir(volumeDir, id);
  try {
    return await fn({ work: w.path, tree: path.join(w.path, 'tree'), old: path.join(w.path, 'old'), remove: () => removeOpenedWorkDir(volumeDir, id, w) });
  } finally {
    await w.close();
  }
}

/**
 * The live parent directory of `rel`, reached from the volume root one component at a time with
 * O_NOFOLLOW: a component that is (or was just swapped for) a symlink or a file fails (ELOOP,
 * ENOTDIR) instead of being followed out of the volume. `path` reaches the parent through its
 * descriptor; `missing` when a component does not exist.
 */
async function liveParent(volumeDir: string, rel: string): Promise<{ path: string; base: string; close: () => Promise<void> } | 'missing'> {
  const parts = rel.split('/');
  const base = parts.pop()!;
  let fh = await fs.open(volumeDir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    for (const part of parts) {
      const next = await fs.open(at(`/proc/${process.pid}/fd/${fh.fd}`, part), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        if (err.code === 'ELOOP' || err.code === 'ENOTDIR') throw new Error(`${quoteName(part)} on the way to ${quoteName(rel)} in the volume is not a directory (a symlink or a file): ${quoteName(rel)} is not restored in place`);
        throw err;
      });
      await fh.close();
      if (!next) return 'missing';
      fh = next;
    }
  } catch (err) {
    await fh.close();
    throw err;
  }
  const held = fh;
  return { path: `/proc/${process.pid}/fd/${held.fd}`, base, close: () => held.close() };
}

/** `fn` with the live entry at `rel` as a path through its parent's descriptor (liveParent). */
async function atLive<T>(volumeDir: string, rel: string, fn: (live: Buffer) => Promise<T>): Promise<T> {
  const parent = await liveParent(volumeDir, rel);
  if (parent === 'missing') throw new Error(`a directory on the way to ${quoteName(rel)} in the volume is gone`);
  try {
    return await fn(at(parent.path, parent.base));
  } finally {
    await parent.close();
  }
}

/**
 * Beside: drop the `extras` (hard link targets outside the chosen paths) and directories they
 * leave empty, then rename the staged tree to the first free `<folder>[-n]`; returns that name.
 */
export async function placeBeside(volumeDir: string, id: string, o: { folder: string; extras: Iterable<string>; keepDirs: ReadonlySet<string>; mode: number }): Promise<string> {
  return withWork(volumeDir, id, async ({ tree, remove }) => {
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
      // The claimed name goes again when the rename fails: the failure says nothing was changed.
      await fs.rename(tree, target).catch(async (err: Error) => {
        await fs.rmdir(target).catch(() => undefined);
        throw err;
      });
      await fsyncDir(volumeDir);
      await remove();
      await fsyncDir(volumeDir);
      return name;
    }
  });
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

/** swapPaths refused before it moved anything (a parent in the volume is a symlink or a file): the work directory is the caller's to drop. */
export class RefusedBeforeSwap extends Error {}

/** In place: swap each chosen path (see the module comment). Leaves the committed work directory for finishCommitted. */
/** `o.failAfter`, `o.beforePath`: test hooks (fail after N paths; act, as a racing user would, before a path is swapped). */
export async function swapPaths(
  volumeDir: string, id: string, paths: readonly string[], o: { failAfter?: number; beforePath?: (p: string) => Promise<void> } = {},
): Promise<{ replaced: number; added: number }> {
  return withWork(volumeDir, id, async ({ work, tree, old }) => {
    if (await exists(old)) throw new Error(`${path.join(volumeDir, workDirName(id), 'old')} already exists (an interrupted restore with this id); it is recovered when the worker restarts`);
    const made = new Set<string>();
    try {
      for (const p of paths) {
        if (!(await exists(at(tree, p)))) throw new Error(`${quoteName(p)} was not extracted from the archive`);
        for (const dir of await checkParents(volumeDir, p)) made.add(dir);
      }
    } catch (err) {
      throw new RefusedBeforeSwap((err as Error).message, { cause: err });
    }
    const journal: PathsJournal = { id, paths: paths.map(hex), made: [...made].sort((a, b) => a.length - b.length).map(hex) };
    await writeFileAtomic(path.join(work, PATHS_JOURNAL), `${JSON.stringify(journal)}\n`, 0o600);
    await fs.mkdir(old, { mode: 0o700 });
    let replaced = 0;
    let added = 0;
    try {
      for (const dir of [...made].sort((a, b) => a.length - b.length)) {
        // With the archive's mode and owner (the staged copy has them), set on what mkdir made.
        const staged = await fs.lstat(at(tree, dir));
        await atLive(volumeDir, dir, async (live) => {
          await fs.mkdir(live, { mode: 0o700 });
          const fh = await fs.open(live, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
          try {
            if (process.geteuid?.() === 0) await fh.chown(staged.uid, staged.gid);
            await fh.chmod(staged.mode & 0o7777);
          } finally {
            await fh.close();
          }
        });
      }
      let done = 0;
      for (const p of paths) {
        if (o.failAfter === done) throw new Error(`test hook: swap failed after ${done} paths`);
        await o.beforePath?.(p);
        await atLive(volumeDir, p, async (live) => {
          if (await exists(live)) {
            const parent = parents(p).at(-1);
            if (parent !== undefined) await fs.mkdir(at(old, parent), { recursive: true, mode: 0o700 });
            await fs.rename(live, at(old, p));
            replaced++;
          } else added++;
          await fs.rename(at(tree, p), live);
        });
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
            `what is not back in the volume is kept in the work directory's old/ and put back when the worker restarts`,
          { cause: rbErr },
        );
      }
      throw new Error(`restoring the paths in place failed, every path was put back as it was (${(err as Error).message})`, { cause: err });
    }
    return { replaced, added };
  });
}

/**
 * Undo an uncommitted in-place swap from its journal: a restored path goes back into tree/, the
 * original out of old/ into its place, created parents are removed when empty; then the work
 * directory goes, unless an original could not be put back (it stays in old/).
 */
export async function rollBackPaths(volumeDir: string, id: string): Promise<{ putBack: number }> {
  return withWork(volumeDir, id, async ({ work, tree, old, remove }) => {
    if (await exists(path.join(work, SWAPPED_MARKER))) await fs.rm(path.join(work, SWAPPED_MARKER));
    const journal = readPathsJournal(await fs.readFile(path.join(work, PATHS_JOURNAL), 'utf8'));
    const paths = journal.paths.map(unhex);
    const problems: string[] = [];
    let putBack = 0;
    for (const p of [...paths].reverse()) {
      // Nothing of this path moved yet (still staged, no original set aside): nothing to undo, and
      // no need to reach the live path (its parent may be a symlink now: that is why the swap stopped).
      if ((await exists(at(tree, p))) && !(await exists(at(old, p)))) continue;
      try {
        await atLive(volumeDir, p, async (live) => {
          if (!(await exists(at(tree, p))) && (await exists(live))) {
            const parent = parents(p).at(-1);
            if (parent !== undefined) await fs.mkdir(at(tree, parent), { recursive: true });
            await fs.rename(live, at(tree, p));
          }
          if (await exists(at(old, p))) {
            if (await exists(live)) problems.push(`${quoteName(p)}: the name is taken in the volume`);
            else {
              await fs.rename(at(old, p), live);
              putBack++;
            }
          }
        });
      } catch (err) {
        problems.push(`${quoteName(p)}: ${(err as Error).message}`);
      }
    }
    for (const dir of journal.made.map(unhex).reverse()) await atLive(volumeDir, dir, (live) => fs.rmdir(live)).catch(() => undefined);
    await fsyncDir(volumeDir);
    if (problems.length) throw new Error(problems.join('; '));
    if ((await exists(old)) && (await holdsFiles(old))) throw new Error(`the work directory's old/ still holds original data`);
    await remove();
    await fsyncDir(volumeDir);
    return { putBack };
  });
}

/** paths.json, checked: relative paths of real components only (nothing that leads out of the volume). */
function readPathsJournal(text: string): PathsJournal {
  const j = JSON.parse(text) as Partial<PathsJournal>;
  const ok = (h: unknown) => {
    if (typeof h !== 'string' || !/^([0-9a-f]{2})+$/.test(h)) return false;
    const parts = unhex(h).split('/');
    return parts.every((c) => c !== '' && c !== '.' && c !== '..' && !c.includes('\0'));
  };
  if (!Array.isArray(j.paths) || !Array.isArray(j.made) || !j.paths.every(ok) || !j.made.every(ok)) throw new Error(`${PATHS_JOURNAL} is not valid`);
  return j as PathsJournal;
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

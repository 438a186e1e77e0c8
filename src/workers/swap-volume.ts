/**
 * Replace a volume's content by what a restore extracted, by renames only. Everything the restore
 * keeps in the volume lives in ONE directory of its own, `<volume>/.oob-restore-<id>/`:
 *
 *   restore.json  written first: marks the directory as this service's (recovery touches nothing else),
 *                 with the volume root's times from before, which a rollback after a crash puts back
 *   tree/         the extraction (the archive's root)
 *   old/          phase 1 moves every current top-level entry of the volume here
 *   journal.json  after phase 1: which names phase 2 moves from tree/ into the root, the root's metadata
 *   swapped       the commit marker, after phase 2 (fsynced): from here on the swap is done
 *
 * So no name in the volume or in the archive can collide with one of ours: the user's data and the
 * archive's entries are always one level below our markers, and a user's own `.oob-restore-…`
 * entry (without our restore.json) is data like any other — moved, archived, restored.
 *
 * Before the commit marker exists, any failure (or a crash, through recoverInterruptedRestores at
 * the next worker start) rolls back: entries from tree/ go back into tree/, the originals back into
 * the root; an original whose name is taken stays in old/ (and the rollback says so). After it,
 * the work directory (with the previous data) is removed and the archive's root metadata applied.
 *
 * Names are bytes (directories are read as Buffers), so Latin-1 names move like any other. The
 * extraction writes without fsync (one fsync per file would make restoring many small files very
 * slow); swapIn flushes the file system (`sync -f`) before it touches the volume, so the restored
 * data is on disk before the originals can be deleted.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { quoteName } from '../core/show-name.js';
import { removeTree } from '../engine/fs/remove-tree.js';
import { bin } from '../engine/fs/tree-walk.js';
import { fsyncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import type { RootMeta } from './extract-archive.js';

const execFileP = promisify(execFile);

/** The work directory of restore <id> is `<WORK_PREFIX><id>`. */
export const WORK_PREFIX = '.oob-restore-';
export const OWNER_FILE = 'restore.json';
export const JOURNAL = 'journal.json';
export const SWAPPED_MARKER = 'swapped';

export interface SwapOptions {
  id: string;
  /** The archive root's metadata (extractArchive's rootMeta), applied to the volume root after the swap. */
  rootMeta?: RootMeta;
  logger: Logger;
  /**
   * The volume root's times before the restore touched it (creating the work directory already
   * changed its mtime); a rollback puts them back. Defaults to the times at swap start.
   */
  rootTimes?: { atime: Date; mtime: Date };
  /** Test hook: fail (and roll back) after N renames of phase 2. */
  failAfterRenames?: number;
  /**
   * Test hook: stop dead like a killed process (no rollback, no cleanup) after N renames counted
   * over phase 1 and phase 2, or, with 'marker', right after the commit marker was written.
   */
  crashAfterRenames?: number | 'marker';
}

/** Thrown by the crashAfterRenames test hook. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new Error(`invalid restore id ${JSON.stringify(id)}`);
}

export function workDirName(id: string): string {
  checkId(id);
  return `${WORK_PREFIX}${id}`;
}

/** Where restore <id> extracts its archive for this volume. */
export function stagingDir(volumeDir: string, id: string): string {
  return path.join(volumeDir, workDirName(id), 'tree');
}

/**
 * Create the work directory of restore <id> in the volume (0700, marked as ours) and return the
 * staging directory to extract into (not created: the extraction creates it). Fails loudly if the
 * name is taken, whatever holds it.
 */
export async function createWorkDir(volumeDir: string, id: string): Promise<string> {
  const work = path.join(volumeDir, workDirName(id));
  // The volume root's times before the work directory changes them: a recovery after a crash puts them back.
  const root = await fs.stat(volumeDir);
  try {
    await fs.mkdir(work, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${work} already exists; it is not overwritten`, { cause: err });
    throw err;
  }
  await fs.chmod(work, 0o700); // mkdir's mode is subject to the umask
  const owner = { id, createdAt: new Date().toISOString(), rootTimes: { atimeMs: root.atimeMs, mtimeMs: root.mtimeMs } };
  await writeFileAtomic(path.join(work, OWNER_FILE), `${JSON.stringify(owner)}\n`, 0o600);
  return path.join(work, 'tree');
}

/** Remove the work directory of restore <id> (only if it is ours), whatever it holds. */
export async function removeWorkDir(volumeDir: string, id: string): Promise<void> {
  const work = path.join(volumeDir, workDirName(id));
  if (!(await isOurs(work, id))) return;
  removeTree(asBin(work));
}

interface Journal {
  id: string;
  /** Names moved (or to be moved) from tree/ into the root, as hex bytes. */
  staged: string[];
  rootMeta?: { mode: number; uid: number; gid: number; mtime: string };
}

export async function swapIn(volumeDir: string, o: SwapOptions): Promise<{ moved: number; removedOld: number }> {
  const { id, logger: log } = o;
  const workName = workDirName(id);
  const work = path.join(volumeDir, workName);
  const tree = path.join(work, 'tree');
  const old = path.join(work, 'old');

  if (!(await isOurs(work, id))) throw new Error(`nothing to swap in: ${work} is not the work directory of restore ${id}`);
  const st = await fs.lstat(tree).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`nothing to swap in: staging directory ${tree} does not exist`);
  if (await exists(old)) {
    throw new Error(`${old} already exists (an interrupted restore with this id); it is recovered when the worker restarts`);
  }
  const staged = await namesIn(tree);
  const rootBefore = o.rootTimes ?? (await fs.stat(volumeDir));

  await syncFilesystem(volumeDir, log);

  let renames = 0;
  const crashPoint = () => {
    renames++;
    if (o.crashAfterRenames === renames) throw new SimulatedCrash(`simulated crash after ${renames} renames`);
  };
  const movedOut: Buffer[] = [];
  const movedIn: Buffer[] = [];
  await fs.mkdir(old, { mode: 0o700 });
  try {
    // Phase 1: the current content out of the way (everything but our work directory).
    const current = (await namesIn(volumeDir)).filter((n) => n.toString('latin1') !== workName);
    for (const n of current) {
      await fs.rename(child(volumeDir, n), child(old, n));
      movedOut.push(n);
      crashPoint();
    }
    await fsyncDir(volumeDir);
    await fsyncDir(old);
    const journal: Journal = { id, staged: staged.map((n) => n.toString('hex')) };
    if (o.rootMeta) journal.rootMeta = { ...o.rootMeta, mtime: o.rootMeta.mtime.toISOString() };
    await writeFileAtomic(path.join(work, JOURNAL), `${JSON.stringify(journal)}\n`, 0o600);

    // Phase 2: the restored content in.
    if (o.failAfterRenames === 0) throw new Error('test hook: swap failed after 0 renames');
    for (const n of staged) {
      await fs.rename(child(tree, n), child(volumeDir, n));
      movedIn.push(n);
      crashPoint();
      if (o.failAfterRenames === movedIn.length) throw new Error(`test hook: swap failed after ${movedIn.length} renames`);
    }
    await fsyncDir(volumeDir);
    await fsyncDir(tree);
    await writeFileAtomic(path.join(work, SWAPPED_MARKER), `${new Date().toISOString()}\n`, 0o600);
  } catch (err) {
    if (err instanceof SimulatedCrash) throw err;
    log.error({ volumeDir, err: (err as Error).message, movedOut: movedOut.length, movedIn: movedIn.length }, 'swap: failed, rolling back');
    try {
      await rollBack(volumeDir, id, movedIn, rootBefore);
    } catch (rbErr) {
      throw new Error(
        `swapping in the restored data failed (${(err as Error).message}) and the rollback is incomplete ` +
          `(${(rbErr as Error).message}); the original entries that are not back in ${volumeDir} are kept in ${old} ` +
          'and are put back when the worker restarts',
        { cause: err },
      );
    }
    throw new Error(`swapping in the restored data failed, the volume was rolled back to its previous content (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (o.crashAfterRenames === 'marker') throw new SimulatedCrash('simulated crash after the commit marker');

  await finishCommitted(volumeDir, id, o.rootMeta, log);
  log.info({ volumeDir, moved: movedIn.length, removedOld: movedOut.length }, 'swap: volume replaced');
  return { moved: movedIn.length, removedOld: movedOut.length };
}

/**
 * Undo an uncommitted swap: entries that came from tree/ (`fromStaging`, as far as they are in the
 * root and not back in tree/) go back into tree/, then every entry of old/ back into the root, then
 * the work directory is removed. Throws (leaving what could not be put back in old/) on any problem.
 */
async function rollBack(
  volumeDir: string,
  id: string,
  fromStaging: readonly Buffer[],
  rootTimes?: { atime: Date; mtime: Date },
): Promise<{ unstaged: number; putBack: number }> {
  const work = path.join(volumeDir, workDirName(id));
  const tree = path.join(work, 'tree');
  const old = path.join(work, 'old');
  const problems: string[] = [];

  // The marker can exist if only the fsync after writing it failed. Gone first: with it, a crash
  // during this rollback would make recovery delete the originals in old/.
  if (await exists(path.join(work, SWAPPED_MARKER))) {
    await fs.rm(path.join(work, SWAPPED_MARKER));
    await fsyncDir(work);
  }

  let unstaged = 0;
  if (fromStaging.length > 0) {
    await fs.mkdir(tree, { recursive: true, mode: 0o700 });
    for (const n of fromStaging) {
      if (!(await exists(child(volumeDir, n))) || (await exists(child(tree, n)))) continue;
      try {
        await fs.rename(child(volumeDir, n), child(tree, n));
        unstaged++;
      } catch (err) {
        problems.push(`cannot move restored ${quoteName(n)} back into staging: ${(err as Error).message}`);
      }
    }
  }

  let putBack = 0;
  const originals = (await exists(old)) ? await namesIn(old) : [];
  for (const n of originals) {
    // rename() would silently replace a file or an empty directory: never overwrite, keep it in old.
    if (await exists(child(volumeDir, n))) {
      problems.push(`${quoteName(n)}: the name is taken in the volume root`);
      continue;
    }
    try {
      await fs.rename(child(old, n), child(volumeDir, n));
      putBack++;
    } catch (err) {
      problems.push(`cannot move ${quoteName(n)} back: ${(err as Error).message}`);
    }
  }
  await fsyncDir(volumeDir);
  if (problems.length > 0) throw new Error(problems.join('; '));

  if (await exists(old)) await fs.rmdir(old); // fails rather than delete anything if old is not empty
  removeTree(asBin(work)); // the marker files and the restored (not swapped in) data
  await fsyncDir(volumeDir);
  if (rootTimes) await fs.utimes(volumeDir, rootTimes.atime, rootTimes.mtime).catch(() => undefined);
  return { unstaged, putBack };
}

/** The swap committed: drop the work directory (with the previous data), give the root the archive's metadata. */
async function finishCommitted(volumeDir: string, id: string, rootMeta: RootMeta | undefined, log: Logger): Promise<void> {
  const work = path.join(volumeDir, workDirName(id));
  // The restore succeeded; a failure from here on leaves a leftover that the next start removes.
  try {
    // Everything but the marker first: a crash in the middle must leave the work directory
    // recognisably committed, or the next start would put the rest of the previous data back. The
    // journal stays too: it holds the root's metadata, which the next start applies after a crash.
    for (const n of await namesIn(work)) {
      const s = n.toString('latin1');
      if (s !== SWAPPED_MARKER && s !== OWNER_FILE && s !== JOURNAL) removeTree(asBin(child(work, n)));
    }
    removeTree(asBin(work));
  } catch (err) {
    log.warn({ volumeDir, err: (err as Error).message }, 'swap: could not remove the previous data; it is removed at the next worker start');
  }
  if (rootMeta) {
    try {
      if (process.geteuid?.() === 0) await fs.chown(volumeDir, rootMeta.uid, rootMeta.gid);
      await fs.chmod(volumeDir, rootMeta.mode & 0o7777);
      await fs.utimes(volumeDir, rootMeta.mtime, rootMeta.mtime);
    } catch (err) {
      log.warn({ volumeDir, err: (err as Error).message }, 'swap: could not apply owner, mode or time to the volume root');
    }
  }
  await fsyncDir(volumeDir).catch(() => undefined);
}

/**
 * Called before a restore or an archive touches a volume and at worker start. For every work
 * directory of ours (a `.oob-restore-<id>` directory holding our restore.json): with the commit
 * marker the swap completed (remove it); without it, roll back (the journal tells which root
 * entries came from tree/; without a journal phase 1 had not completed and the root holds only
 * originals). Anything else with that prefix is the user's and is left alone. Returns a description
 * of each action; throws after trying everything if something could not be recovered.
 */
export async function recoverInterruptedRestores(volumeDir: string, logger: Logger): Promise<string[]> {
  let names: Buffer[];
  try {
    names = await namesIn(volumeDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const actions: string[] = [];
  const errors: string[] = [];
  for (const raw of names) {
    const n = raw.toString('latin1');
    if (!n.startsWith(WORK_PREFIX)) continue;
    const id = n.slice(WORK_PREFIX.length);
    if (!ID_RE.test(id) || !(await isOurs(path.join(volumeDir, n), id))) continue;
    try {
      actions.push(await recoverOne(volumeDir, id, logger));
    } catch (err) {
      errors.push(`restore ${id}: ${(err as Error).message}`);
    }
  }
  for (const a of actions) logger.warn({ volumeDir }, `recovery: ${a}`);
  if (errors.length > 0) {
    throw new Error(
      `recovering interrupted restores in ${volumeDir} failed: ${errors.join('; ')}` + (actions.length ? ` (done: ${actions.join('; ')})` : ''),
    );
  }
  return actions;
}

/** Whether the volume holds a work directory of ours (a restore that is running or was interrupted). */
export async function hasWorkDirs(volumeDir: string): Promise<boolean> {
  const names = await namesIn(volumeDir).catch(() => [] as Buffer[]);
  for (const raw of names) {
    const n = raw.toString('latin1');
    const id = n.slice(WORK_PREFIX.length);
    if (n.startsWith(WORK_PREFIX) && ID_RE.test(id) && (await isOurs(path.join(volumeDir, n), id))) return true;
  }
  return false;
}

async function recoverOne(volumeDir: string, id: string, log: Logger): Promise<string> {
  const work = path.join(volumeDir, workDirName(id));
  const journal = await readJournal(path.join(work, JOURNAL));
  if (await exists(path.join(work, SWAPPED_MARKER))) {
    const rootMeta = journal?.rootMeta ? { ...journal.rootMeta, mtime: new Date(journal.rootMeta.mtime) } : undefined;
    await finishCommitted(volumeDir, id, rootMeta, log);
    return `restore ${id}: the swap had completed; removed the previous data and the staging directory`;
  }
  const rootTimes = await createdRootTimes(work);
  if (!(await exists(path.join(work, 'old')))) {
    removeTree(asBin(work));
    if (rootTimes) await fs.utimes(volumeDir, rootTimes.atime, rootTimes.mtime).catch(() => undefined);
    return `restore ${id}: removed the staging directory of an extraction that never reached the swap`;
  }
  const staged = (journal?.staged ?? []).map((h) => Buffer.from(h, 'hex'));
  const { unstaged, putBack } = await rollBack(volumeDir, id, staged, rootTimes);
  return `restore ${id}: rolled back an interrupted swap (${putBack} original entries put back, ${unstaged} restored entries removed)`;
}

async function readJournal(file: string): Promise<Journal | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const j = JSON.parse(text) as Partial<Journal>;
  const okName = (h: unknown) => {
    if (typeof h !== 'string' || !/^([0-9a-f]{2})+$/.test(h)) return false;
    const n = Buffer.from(h, 'hex').toString('latin1');
    return n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
  };
  if (!Array.isArray(j.staged) || !j.staged.every(okName)) throw new Error(`journal ${file} is not valid`);
  return j as Journal;
}

/** The volume root's times from before the work directory was made (restore.json), if it recorded them. */
async function createdRootTimes(work: string): Promise<{ atime: Date; mtime: Date } | undefined> {
  try {
    const { rootTimes: t } = JSON.parse(await fs.readFile(path.join(work, OWNER_FILE), 'utf8')) as { rootTimes?: { atimeMs?: unknown; mtimeMs?: unknown } };
    if (typeof t?.atimeMs !== 'number' || typeof t.mtimeMs !== 'number') return undefined;
    return { atime: new Date(t.atimeMs), mtime: new Date(t.mtimeMs) };
  } catch {
    return undefined;
  }
}

/** Whether `work` is the work directory of restore <id>: a directory holding our restore.json for that id. */
async function isOurs(work: string, id: string): Promise<boolean> {
  const st = await fs.lstat(work).catch(() => undefined);
  if (!st?.isDirectory()) return false;
  try {
    const owner = JSON.parse(await fs.readFile(path.join(work, OWNER_FILE), 'utf8')) as { id?: unknown };
    return owner.id === id;
  } catch {
    return false;
  }
}

/** Names in a directory as bytes. */
async function namesIn(dir: string): Promise<Buffer[]> {
  return fs.readdir(dir, { encoding: 'buffer' });
}

/** `<dir>/<name>` with the name's exact bytes. */
function child(dir: string, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), name]);
}

function asBin(p: string | Buffer): string {
  return (typeof p === 'string' ? Buffer.from(p) : p).toString('latin1');
}

/** Make everything written to the volume's file system so far durable (syncfs via coreutils). */
async function syncFilesystem(dir: string, log: Logger): Promise<void> {
  try {
    await execFileP('sync', ['-f', dir]);
  } catch (err) {
    try {
      await execFileP('sync', []);
    } catch {
      log.warn({ dir, err: (err as Error).message }, 'swap: could not flush the file system before the swap');
    }
  }
}

async function exists(p: string | Buffer): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

// Kept for callers that build paths themselves.
export { bin };

/**
 * Replace a volume's content by what a restore extracted into `<volume>/.oob-restore-<id>/`, by
 * renames only (staging is inside the volume, so every rename is atomic and instant):
 *
 *   phase 1  move every current top-level entry into `<volume>/.oob-restore-<id>-old/`;
 *            write the journal `<old>/.oob-restore-journal.json` (names being staged, root metadata);
 *   phase 2  move every top-level entry of the staging directory into the volume root;
 *   commit   write the marker `<old>/.oob-restore-swapped` (fsynced): from here on the swap is done;
 *   cleanup  delete staging and old, apply the archive root's mode/owner/mtime to the volume root.
 *
 * Before the commit marker exists, any failure (or a crash, through recoverInterruptedRestores at
 * the next worker start) rolls back: staged entries go back into staging, the originals back into
 * the root. The rollback never deletes an original: old is only removed with rmdir once it is
 * empty, and an original whose name is still taken stays in old (and the rollback reports it).
 *
 * Markers live inside old and carry the reserved `.oob-restore-` prefix, like the staging and old
 * directories themselves: phase 1 never moves such names, so no original entry can be mistaken for
 * a marker (a volume holding a `.oob-swapped` file must not make recovery delete its data).
 *
 * The extraction writes without fsync (one fsync per file would make restoring many small files very
 * slow); swapIn flushes the file system (`sync -f`) before it touches the volume, so the restored
 * data is on disk before the originals can be deleted.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { fsyncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import type { RootMeta } from './extract-archive.js';

const execFileP = promisify(execFile);

/** Every name we create in a volume starts with this; archives exclude it and phase 1 skips it. */
export const RESERVED_PREFIX = '.oob-restore-';
/** In old: the swap committed (phase 2 complete). */
export const SWAPPED_MARKER = '.oob-restore-swapped';
/** In old: phase 1 complete; which names phase 2 moves from staging into the root, and the root metadata. */
export const JOURNAL = '.oob-restore-journal.json';

export interface SwapOptions {
  id: string;
  /** The archive root's metadata (extractArchive's rootMeta), applied to the volume root after the swap. */
  rootMeta?: RootMeta;
  logger: Logger;
  /**
   * The volume root's times before the restore touched it (creating staging inside the volume
   * already changed its mtime); a rollback puts them back. Defaults to the times at swap start.
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

function isValidId(id: string): boolean {
  // "-old" would make the staging name of one id the old name of another.
  return ID_RE.test(id) && !id.endsWith('-old');
}

function checkId(id: string): void {
  if (!isValidId(id)) throw new Error(`invalid restore id ${JSON.stringify(id)}`);
}

export function stagingDirName(id: string): string {
  checkId(id);
  return `${RESERVED_PREFIX}${id}`;
}

export function oldDirName(id: string): string {
  checkId(id);
  return `${RESERVED_PREFIX}${id}-old`;
}

interface Journal {
  id: string;
  staged: string[];
  rootMeta?: { mode: number; uid: number; gid: number; mtime: string };
}

export async function swapIn(volumeDir: string, o: SwapOptions): Promise<{ moved: number; removedOld: number }> {
  const { id, logger: log } = o;
  const staging = path.join(volumeDir, stagingDirName(id));
  const old = path.join(volumeDir, oldDirName(id));

  const st = await fs.lstat(staging).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`nothing to swap in: staging directory ${staging} does not exist`);
  if (await exists(old)) {
    throw new Error(`${old} already exists (an interrupted restore with this id); it is recovered when the worker restarts`);
  }
  const stagingNames = await fs.readdir(staging);
  const staged = stagingNames.filter((n) => !n.startsWith(RESERVED_PREFIX));
  if (staged.length !== stagingNames.length) {
    log.warn({ volumeDir, skipped: stagingNames.filter((n) => n.startsWith(RESERVED_PREFIX)) }, 'swap: staged entries with a reserved name are not restored');
  }
  const rootBefore = o.rootTimes ?? (await fs.stat(volumeDir));

  await syncFilesystem(volumeDir, log);

  let renames = 0;
  const crashPoint = () => {
    renames++;
    if (o.crashAfterRenames === renames) throw new SimulatedCrash(`simulated crash after ${renames} renames`);
  };
  const movedOut: string[] = [];
  const movedIn: string[] = [];
  await fs.mkdir(old, { mode: 0o700 });
  try {
    // Phase 1: the current content out of the way.
    const current = (await fs.readdir(volumeDir)).filter((n) => !n.startsWith(RESERVED_PREFIX));
    for (const n of current) {
      await fs.rename(path.join(volumeDir, n), path.join(old, n));
      movedOut.push(n);
      crashPoint();
    }
    await fsyncDir(volumeDir);
    await fsyncDir(old);
    const journal: Journal = { id, staged };
    if (o.rootMeta) journal.rootMeta = { ...o.rootMeta, mtime: o.rootMeta.mtime.toISOString() };
    await writeFileAtomic(path.join(old, JOURNAL), `${JSON.stringify(journal)}\n`, 0o600);

    // Phase 2: the restored content in.
    if (o.failAfterRenames === 0) throw new Error('test hook: swap failed after 0 renames');
    for (const n of staged) {
      await fs.rename(path.join(staging, n), path.join(volumeDir, n));
      movedIn.push(n);
      crashPoint();
      if (o.failAfterRenames === movedIn.length) throw new Error(`test hook: swap failed after ${movedIn.length} renames`);
    }
    await fsyncDir(volumeDir);
    await fsyncDir(staging);
    await writeFileAtomic(path.join(old, SWAPPED_MARKER), `${new Date().toISOString()}\n`, 0o600);
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
    await fs.rm(staging, { recursive: true, force: true }).catch((e: Error) => log.warn({ staging, err: e.message }, 'swap: could not remove staging'));
    // Removing staging touched the root again: give it back the times it had before the swap.
    await fs.utimes(volumeDir, rootBefore.atime, rootBefore.mtime).catch(() => undefined);
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
 * Undo an uncommitted swap: entries that came from staging (`fromStaging`, as far as they are in the
 * root and not back in staging) go back into staging, then every entry of old back into the root,
 * then old is removed with rmdir. Throws (leaving what could not be put back in old) on any problem.
 */
async function rollBack(
  volumeDir: string,
  id: string,
  fromStaging: readonly string[],
  rootTimes?: { atime: Date; mtime: Date },
): Promise<{ unstaged: number; putBack: number }> {
  const staging = path.join(volumeDir, stagingDirName(id));
  const old = path.join(volumeDir, oldDirName(id));
  const problems: string[] = [];

  // The marker can exist if only the fsync after writing it failed. Gone first: with it, a crash
  // during this rollback would make recovery delete old with the originals in it.
  if (await exists(path.join(old, SWAPPED_MARKER))) {
    await fs.rm(path.join(old, SWAPPED_MARKER));
    await fsyncDir(old);
  }

  let unstaged = 0;
  if (fromStaging.length > 0) {
    await fs.mkdir(staging, { recursive: true, mode: 0o700 });
    for (const n of fromStaging) {
      const src = path.join(volumeDir, n);
      if (!(await exists(src)) || (await exists(path.join(staging, n)))) continue;
      try {
        await fs.rename(src, path.join(staging, n));
        unstaged++;
      } catch (err) {
        problems.push(`cannot move restored ${n} back into staging: ${(err as Error).message}`);
      }
    }
  }

  let putBack = 0;
  const originals = (await fs.readdir(old)).filter((n) => !n.startsWith(RESERVED_PREFIX));
  for (const n of originals) {
    const dst = path.join(volumeDir, n);
    // rename() would silently replace a file or an empty directory: never overwrite, keep it in old.
    if (await exists(dst)) {
      problems.push(`${n}: the name is taken in the volume root`);
      continue;
    }
    try {
      await fs.rename(path.join(old, n), dst);
      putBack++;
    } catch (err) {
      problems.push(`cannot move ${n} back: ${(err as Error).message}`);
    }
  }
  await fsyncDir(volumeDir);
  if (problems.length > 0) throw new Error(problems.join('; '));

  // Only our markers are left (no original has the reserved prefix); plain rm fails on a directory.
  for (const n of await fs.readdir(old)) {
    if (n.startsWith(RESERVED_PREFIX)) await fs.rm(path.join(old, n));
  }
  await fs.rmdir(old); // fails rather than delete anything if old is not empty
  await fsyncDir(volumeDir);
  if (rootTimes) await fs.utimes(volumeDir, rootTimes.atime, rootTimes.mtime).catch(() => undefined);
  return { unstaged, putBack };
}

/** The swap committed: drop staging and the previous data, give the root the archive's metadata. */
async function finishCommitted(volumeDir: string, id: string, rootMeta: RootMeta | undefined, log: Logger): Promise<void> {
  const staging = path.join(volumeDir, stagingDirName(id));
  const old = path.join(volumeDir, oldDirName(id));
  // The restore succeeded; a failure from here on leaves a leftover that the next start removes.
  try {
    await fs.rm(staging, { recursive: true, force: true });
    // The marker goes last: a crash in the middle must leave old recognisably committed, or the
    // next start would put the rest of the previous data back among the restored entries.
    const names = await fs.readdir(old).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const n of names) {
      if (n !== SWAPPED_MARKER) await fs.rm(path.join(old, n), { recursive: true, force: true });
    }
    await fs.rm(old, { recursive: true, force: true });
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
 * Called at worker start, for each volume. For every `<old>` directory: with the commit marker the
 * swap completed (delete old and staging); without it, roll back (the journal tells which root
 * entries came from staging; without a journal phase 1 had not completed and the root holds only
 * originals). Then staging directories without an old directory (extractions that never reached
 * the swap) are deleted. Returns a description of each action; throws after trying everything if
 * something could not be recovered.
 */
export async function recoverInterruptedRestores(volumeDir: string, logger: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(volumeDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const actions: string[] = [];
  const errors: string[] = [];
  const blocked = new Set<string>();

  for (const n of names) {
    if (!n.startsWith(RESERVED_PREFIX) || !n.endsWith('-old')) continue;
    const id = n.slice(RESERVED_PREFIX.length, -'-old'.length);
    if (!isValidId(id) || !(await isDir(path.join(volumeDir, n)))) continue;
    try {
      actions.push(await recoverOne(volumeDir, id, logger));
    } catch (err) {
      blocked.add(id);
      errors.push(`restore ${id}: ${(err as Error).message}`);
    }
  }

  for (const n of await fs.readdir(volumeDir)) {
    if (!n.startsWith(RESERVED_PREFIX) || n.endsWith('-old')) continue;
    const id = n.slice(RESERVED_PREFIX.length);
    if (!isValidId(id) || blocked.has(id) || !(await isDir(path.join(volumeDir, n)))) continue;
    if (await exists(path.join(volumeDir, oldDirName(id)))) continue;
    try {
      await fs.rm(path.join(volumeDir, n), { recursive: true, force: true });
      actions.push(`restore ${id}: removed the staging directory of an extraction that never reached the swap`);
    } catch (err) {
      errors.push(`restore ${id}: cannot remove staging directory ${n}: ${(err as Error).message}`);
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

async function recoverOne(volumeDir: string, id: string, log: Logger): Promise<string> {
  const old = path.join(volumeDir, oldDirName(id));
  const journal = await readJournal(path.join(old, JOURNAL));
  if (await exists(path.join(old, SWAPPED_MARKER))) {
    const rootMeta = journal?.rootMeta ? { ...journal.rootMeta, mtime: new Date(journal.rootMeta.mtime) } : undefined;
    await finishCommitted(volumeDir, id, rootMeta, log);
    return `restore ${id}: the swap had completed; removed the previous data and the staging directory`;
  }
  const { unstaged, putBack } = await rollBack(volumeDir, id, journal?.staged ?? []);
  await fs.rm(path.join(volumeDir, stagingDirName(id)), { recursive: true, force: true });
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
  const okName = (n: unknown) => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
  if (!Array.isArray(j.staged) || !j.staged.every(okName)) throw new Error(`journal ${file} is not valid`);
  return j as Journal;
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

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await fs.lstat(p).catch(() => undefined))?.isDirectory() ?? false;
}

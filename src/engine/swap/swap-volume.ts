/**
 * Replace a volume's content by what a restore extracted into its work directory (work-dir.ts), by
 * renames only (the work directory is inside the volume, so every rename is atomic and instant):
 *
 *   phase 1  move every current top-level entry of the volume (but the work directory) into old/;
 *            write the journal (names being staged, root metadata);
 *   phase 2  move every top-level entry of tree/ into the volume root;
 *   commit   write the marker `swapped` (fsynced): from here on the swap is done;
 *   cleanup  remove the work directory (with the previous data), apply the archive root's metadata
 *            (finishCommitted; a restore of several volumes runs it after every volume committed).
 *
 * Before the commit marker exists, any failure (or a crash, through recovery.ts at the next start)
 * rolls back: entries from tree/ go back into tree/, the originals back into the root; an original
 * whose name is taken stays in old/ (and the rollback says so). Names are bytes (directories are
 * read as Buffers). The extraction writes without fsync (one fsync per file would make restoring
 * many small files very slow); swapIn flushes the file system (`sync -f`) before it touches the
 * volume, so the restored data is on disk before the originals can be deleted, and a flush that
 * fails (the disk's I/O error) stops it before anything moved.
 */
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { quoteName } from '../../core/show-name.js';
import { removeTreeAsync } from '../fs/remove-tree.js';
import { fsyncDir, writeFileAtomic } from '../fs/atomic.js';
import { syncFilesystem } from './flush-volumes.js';
import { dirTimesOf, putDirTimes, setMtime, type DirTimes } from '../fs/file-times.js';
import type { RootMeta } from '../extract/extract-options.js';
import { asBin, child, exists, JOURNAL, namesIn, openWorkDir, OWNER_FILE, removeOpenedWorkDir, SWAPPED_MARKER, workDirName, type OpenedWorkDir } from './work-dir.js';
import type { Journal } from './swap-journal.js';


export interface SwapOptions {
  id: string;
  /** The archive root's metadata (extractArchive's rootMeta), applied to the volume root after the swap. */
  rootMeta?: RootMeta;
  logger: Logger;
  /**
   * The volume root's times before the restore touched it (creating the work directory already
   * changed its mtime); a rollback puts them back. Defaults to the times at swap start.
   */
  rootTimes?: DirTimes;
  /**
   * The caller has flushed the volume's file system since the extraction into the work directory
   * ended (flushFileSystems: a restore of several volumes flushes each file system once, not once
   * per volume); without it the swap flushes first.
   */
  flushed?: boolean;
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

/**
 * The whole swap of one volume: commitSwap, then finishCommitted (the previous data removed, the
 * root's metadata applied). `leftover` says what of the previous data could not be removed.
 */
export async function swapIn(volumeDir: string, o: SwapOptions): Promise<{ moved: number; previousEntries: number; leftover?: string }> {
  const r = await commitSwap(volumeDir, o);
  const leftover = await finishCommitted(volumeDir, o.id, o.rootMeta, o.logger);
  return leftover ? { ...r, leftover } : r;
}

/**
 * Phases 1 and 2 and the commit marker: the restored data is live and durable, the previous data
 * waits in the work directory until finishCommitted (or, after a crash, the recovery) removes it.
 * A restore of several volumes commits every volume first and then removes all previous data, so
 * the volumes change within a few renames of each other rather than one removal apart.
 */
export async function commitSwap(volumeDir: string, o: SwapOptions): Promise<{ moved: number; previousEntries: number }> {
  // Through its descriptor (openWorkDir): a share user can rename entries of the volume root.
  const w = await openWorkDir(volumeDir, o.id).catch((err: Error) => {
    throw new Error(`nothing to swap in: ${err.message}`);
  });
  try {
    return await commitOpened(volumeDir, o, w.path);
  } finally {
    await w.close();
  }
}

async function commitOpened(volumeDir: string, o: SwapOptions, work: string): Promise<{ moved: number; previousEntries: number }> {
  const { id, logger: log } = o;
  const workName = workDirName(id);
  const tree = path.join(work, 'tree');
  const old = path.join(work, 'old');
  // For messages: where the admin finds them (`work` is the descriptor's /proc path).
  const shown = (sub: string) => path.join(volumeDir, workName, sub);
  const st = await fs.lstat(tree).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`nothing to swap in: staging directory ${shown('tree')} does not exist`);
  if (await exists(old)) {
    throw new Error(`${shown('old')} already exists (an interrupted restore with this id); it is recovered when the worker restarts`);
  }
  const staged = await namesIn(tree);
  const rootBefore = o.rootTimes ?? (await dirTimesOf(volumeDir));

  if (!o.flushed) await syncFilesystem(volumeDir);

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
    if (o.rootMeta) journal.rootMeta = { ...o.rootMeta };
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
          `(${(rbErr as Error).message}); the original entries that are not back in ${volumeDir} are kept in ${shown('old')} ` +
          'and are put back when the worker restarts',
        { cause: rbErr },
      );
    }
    throw new Error(`swapping in the restored data failed, the volume was rolled back to its previous content (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (o.crashAfterRenames === 'marker') throw new SimulatedCrash('simulated crash after the commit marker');

  log.info({ volumeDir, moved: movedIn.length, previousEntries: movedOut.length }, 'swap: volume replaced');
  return { moved: movedIn.length, previousEntries: movedOut.length };
}

/**
 * Undo an uncommitted swap: entries that came from tree/ (`fromStaging`, as far as they are in the
 * root and not back in tree/) go back into tree/, then every entry of old/ back into the root, then
 * the work directory is removed. Throws (leaving what could not be put back in old/) on any problem.
 */
export async function rollBack(
  volumeDir: string,
  id: string,
  fromStaging: readonly Buffer[],
  rootTimes?: DirTimes,
): Promise<{ unstaged: number; putBack: number }> {
  const w = await openWorkDir(volumeDir, id);
  try {
    return await rollBackOpened(volumeDir, id, w, fromStaging, rootTimes);
  } finally {
    await w.close();
  }
}

async function rollBackOpened(volumeDir: string, id: string, w: OpenedWorkDir, fromStaging: readonly Buffer[], rootTimes?: DirTimes) {
  const work = w.path;
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
  await removeOpenedWorkDir(volumeDir, id, w); // the marker files and the restored (not swapped in) data
  await fsyncDir(volumeDir);
  if (rootTimes) await putDirTimes(volumeDir, rootTimes).catch(() => undefined);
  return { unstaged, putBack };
}

/**
 * The swap committed: drop the work directory (with the previous data), give the root the archive's
 * metadata (after the removal, which changes the root's mtime). Never throws: the restore itself
 * succeeded. Returns what could not be removed (an immutable file, a mount point in the old data),
 * as a sentence for the restore's summary; the recovery tries again at every maintenance check, and
 * archives leave the committed work directory out with a warning (leftoverWorkDirs) until it is gone.
 */
export async function finishCommitted(volumeDir: string, id: string, rootMeta: RootMeta | undefined, log: Logger): Promise<string | undefined> {
  const work = path.join(volumeDir, workDirName(id));
  let leftover: string | undefined;
  try {
    await removePreviousData(volumeDir, id);
  } catch (err) {
    const why = (err as Error).message;
    leftover = `the previous data could not be removed completely (${why}); what is left is in ${work}: remove it by hand`;
    log.error({ volumeDir, work, err: why }, 'swap: could not remove the previous data; the recovery tries again, archives leave it out');
  }
  if (rootMeta) {
    try {
      if (process.geteuid?.() === 0) await fs.chown(volumeDir, rootMeta.uid, rootMeta.gid);
      await fs.chmod(volumeDir, rootMeta.mode & 0o7777);
      await setRootMtime(volumeDir, rootMeta);
    } catch (err) {
      log.warn({ volumeDir, err: (err as Error).message }, 'swap: could not apply owner, mode or time to the volume root');
    }
  }
  await fsyncDir(volumeDir).catch(() => undefined);
  return leftover;
}

/** The committed work directory, through its descriptor (openWorkDir); not ours (any more): nothing to remove. */
async function removePreviousData(volumeDir: string, id: string): Promise<void> {
  const w = await openWorkDir(volumeDir, id).catch(() => undefined);
  if (!w) return;
  try {
    // Everything but the marker first: a crash in the middle must leave the work directory
    // recognisably committed, or the next start would put the rest of the previous data back. The
    // journal stays too: it holds the root's metadata, which the next start applies after a crash.
    for (const n of await namesIn(w.path)) {
      const s = n.toString('latin1');
      if (s !== SWAPPED_MARKER && s !== OWNER_FILE && s !== JOURNAL) await removeTreeAsync(asBin(child(w.path, n)));
    }
    await removeOpenedWorkDir(volumeDir, id, w);
  } catch (err) {
    // Name what is left where the admin finds it, not by the descriptor's /proc path.
    throw new Error((err as Error).message.replaceAll(w.path, path.join(volumeDir, workDirName(id))), { cause: err });
  } finally {
    await w.close();
  }
}

/** The root's mtime to the nanosecond (file-times.ts); the atime is left, as GNU tar leaves it. */
async function setRootMtime(volumeDir: string, m: RootMeta): Promise<void> {
  const fh = await fs.open(volumeDir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    setMtime(fh.fd, m.mtimeSec, m.mtimeNsec);
  } finally {
    await fh.close();
  }
}

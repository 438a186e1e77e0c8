/**
 * The one directory a restore keeps in a volume, `<volume>/.oob-restore-<id>/`, and what is in it:
 *
 *   restore.json  written first: marks the directory as this service's (recovery touches nothing else),
 *                 with the volume root's times from before, which a rollback after a crash puts back
 *   tree/         the extraction (the archive's root)
 *   old/          the swap's phase 1 moves every current top-level entry of the volume here
 *   journal.json  after phase 1: which names phase 2 moves from tree/ into the root, the root's metadata
 *   swapped       the commit marker, after phase 2 (fsynced): from here on the swap is done
 *
 * Names are bytes: directories are read as Buffers.
 */
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { removeTreeAsync } from '../fs/remove-tree.js';
import { writeFileAtomic } from '../fs/atomic.js';
import type { DirTimes } from '../fs/file-times.js';
import { showName } from '../../core/show-name.js';

/** The work directory of restore <id> is `<WORK_PREFIX><id>`. */
export const WORK_PREFIX = '.oob-restore-';
export const OWNER_FILE = 'restore.json';
export const JOURNAL = 'journal.json';
export const SWAPPED_MARKER = 'swapped';

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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
 * A directory by its descriptor, as `/proc/<pid>/fd/<fd>`: this very directory, whatever a share
 * user renames in the volume root meanwhile (ours too, though they cannot enter it). `<pid>`, not
 * `self`: GNU tar and `rm -rf` children are handed such paths, for which `self` is themselves.
 */
const pinnedPath = (fd: number) => `/proc/${process.pid}/fd/${fd}`;

/** A restore's staging directory, reached through its work directory's descriptor (createWorkDir). */
export interface PinnedStaging {
  /** `<pinnedPath>/tree`: the staging directory (not created yet: the extraction creates it). */
  path: string;
  /** The work directory the same way, for more directories beside `tree` (an incremental's `chain`). */
  work: string;
  /** Closes the descriptor: the paths above reach nothing after it. */
  close: () => Promise<void>;
}

/**
 * Create the work directory of restore <id> in the volume (0700, marked as ours) and hand back its
 * staging directory through the directory's descriptor: a share user can rename it and put a
 * symlink or a directory of their own in its place, and an extraction by name (GNU tar's deletions
 * too) then reached outside the volume, as root (found by an audit). A directory found in its place
 * before the open is refused. Fails loudly if the name is taken, whatever holds it.
 */
export async function createWorkDir(volumeDir: string, id: string): Promise<PinnedStaging> {
  const work = path.join(volumeDir, workDirName(id));
  // The volume root's times before the work directory changes them: a recovery after a crash puts them back.
  const root = await fs.stat(volumeDir, { bigint: true });
  try {
    await fs.mkdir(work, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${work} already exists; it is not overwritten`, { cause: err });
    throw err;
  }
  const fh = await fs.open(work, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch((err: Error) => {
    throw new Error(`${work} was replaced right after it was made (${err.message}); nothing was changed`, { cause: err });
  });
  const pinned = pinnedPath(fh.fd);
  try {
    await fh.chmod(0o700); // mkdir's mode is subject to the umask
    // Ours (a share user cannot make a directory of ours) and empty: the one just made.
    if (!isOurDir(await fh.stat()) || (await fs.readdir(pinned)).length > 0) throw new Error(`${work} was replaced right after it was made; nothing was changed`);
    // To the nanosecond as strings; the milliseconds too, for a worker of an earlier version that recovers it.
    const rootTimes = { atimeMs: Number(root.atimeMs), mtimeMs: Number(root.mtimeMs), atimeNs: String(root.atimeNs), mtimeNs: String(root.mtimeNs) };
    const owner = { id, createdAt: new Date().toISOString(), rootTimes };
    await writeFileAtomic(path.join(pinned, OWNER_FILE), `${JSON.stringify(owner)}\n`, 0o600);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return { path: path.join(pinned, 'tree'), work: pinned, close: () => fh.close() };
}

/**
 * Remove the work directory of restore <id> (only if it is ours) with its staging tree — unless its
 * `old/` holds entries: those are the volume's originals, left there by a swap whose rollback could
 * not put them all back; the recovery (recovery.ts, at the next maintenance check or worker start)
 * puts them back, so they are never deleted here, and the error is logged. False when it was kept.
 */
export async function removeWorkDir(volumeDir: string, id: string, log: Logger): Promise<boolean> {
  let work: Buffer = Buffer.from(path.join(volumeDir, workDirName(id)));
  if (!(await isOurs(work.toString(), id))) {
    // A share user can rename entries of the volume root, ours too (not enter them): found under
    // another name, it is removed all the same, or it would stay there, closed to everyone.
    const renamed = await findRenamed(volumeDir, id);
    if (!renamed) return true;
    log.warn({ volumeDir, renamedTo: showName(asBin(renamed)) }, 'the restore\'s work directory was renamed in the volume; it is removed under that name');
    work = renamed;
  }
  const originals = await fs.readdir(Buffer.concat([work, Buffer.from('/old')])).catch(() => []);
  if (originals.length > 0) {
    log.error({ volumeDir, work: showName(asBin(work)), originals: originals.length }, 'originals that a failed swap could not put back stay in the work directory; the recovery puts them back');
    return false;
  }
  await removeTreeAsync(asBin(work));
  return true;
}

/**
 * Whether `work` is the work directory of restore <id>: a directory of this process's user with mode
 * 0700 (as createWorkDir makes it), holding our restore.json for that id, a regular file of ours.
 * Anyone who can write the volume can make a `.oob-restore-<id>` with a restore.json in it; only
 * this service can make one that is its user's and closed to everyone else. Anything else of that
 * name is data, never acted on: the recovery would otherwise move, put back or delete whatever a
 * forged journal names (a share user's forgery moved another volume's database file away).
 */
export async function isOurs(work: string, id: string): Promise<boolean> {
  const st = await fs.lstat(work).catch(() => undefined);
  return st !== undefined && isOurDir(st) && (await ownerFileNames(path.join(work, OWNER_FILE), id));
}

/** Our work directory of restore <id> under another name in the volume root, if someone renamed it. */
async function findRenamed(volumeDir: string, id: string): Promise<Buffer | undefined> {
  for (const raw of await namesIn(volumeDir).catch(() => [] as Buffer[])) {
    const p = child(volumeDir, raw);
    const st = await fs.lstat(p).catch(() => undefined);
    if (st && isOurDir(st) && (await ownerFileNames(Buffer.concat([p, Buffer.from(`/${OWNER_FILE}`)]), id))) return p;
  }
  return undefined;
}

/** A directory of this process's user that no one else can enter. */
export function isOurDir(st: { uid: number; mode: number; isDirectory(): boolean }): boolean {
  return st.isDirectory() && st.uid === (process.geteuid?.() ?? st.uid) && (st.mode & 0o777) === 0o700;
}

async function ownerFileNames(file: string | Buffer, id: string): Promise<boolean> {
  try {
    const st = await fs.lstat(file);
    if (!st.isFile() || st.uid !== (process.geteuid?.() ?? st.uid)) return false;
    const owner = JSON.parse(await fs.readFile(file, 'utf8')) as { id?: unknown };
    return owner.id === id;
  } catch {
    return false;
  }
}

/**
 * The work directory of restore <id>, opened (O_NOFOLLOW) and checked as isOurs checks it: its
 * `path` reaches this very directory (pinnedPath) whatever is renamed or put in place of its name
 * in the volume meanwhile. Close it when done.
 */
export interface OpenedWorkDir {
  path: string;
  close: () => Promise<void>;
  sameAs: (p: string) => Promise<boolean>;
}

export async function openWorkDir(volumeDir: string, id: string): Promise<OpenedWorkDir> {
  const work = path.join(volumeDir, workDirName(id));
  const fh = await fs.open(work, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch(() => undefined);
  const st = await fh?.stat();
  const pinned = pinnedPath(fh?.fd ?? -1);
  if (!fh || !st || !isOurDir(st) || !(await ownerFileNames(path.join(pinned, OWNER_FILE), id))) {
    await fh?.close();
    throw new Error(`${work} is not the work directory of restore ${id}`);
  }
  return {
    path: pinned,
    close: () => fh.close(),
    // Whether `p` (a name in the volume) is still this directory.
    sameAs: async (p) => {
      const now = await fs.lstat(p).catch(() => undefined);
      return now !== undefined && now.dev === st.dev && now.ino === st.ino;
    },
  };
}

/**
 * Removes the opened work directory of restore <id>: everything in it through its descriptor,
 * then its now empty self by name, if that name still is it (rmdir removes nothing else).
 */
export async function removeOpenedWorkDir(volumeDir: string, id: string, w: { path: string; sameAs: (p: string) => Promise<boolean> }): Promise<void> {
  for (const n of await namesIn(w.path)) await removeTreeAsync(asBin(child(w.path, n)));
  const name = path.join(volumeDir, workDirName(id));
  if (await w.sameAs(name)) await fs.rmdir(name);
}

/** Names in a directory as bytes. */
export async function namesIn(dir: string): Promise<Buffer[]> {
  return fs.readdir(dir, { encoding: 'buffer' });
}

/** `<dir>/<name>` with the name's exact bytes. */
export function child(dir: string, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), name]);
}

export function asBin(p: string | Buffer): string {
  return (typeof p === 'string' ? Buffer.from(p) : p).toString('latin1');
}

/** The work directories of ours in the volume root (restores running, interrupted, or finished with leftovers). */
export async function ourWorkDirs(volumeDir: string): Promise<{ name: string; id: string; committed: boolean }[]> {
  const names = await namesIn(volumeDir).catch(() => [] as Buffer[]);
  const ours: { name: string; id: string; committed: boolean }[] = [];
  for (const raw of names) {
    const n = raw.toString('latin1');
    const id = n.slice(WORK_PREFIX.length);
    const work = path.join(volumeDir, n);
    if (n.startsWith(WORK_PREFIX) && ID_RE.test(id) && (await isOurs(work, id))) {
      ours.push({ name: n, id, committed: await exists(path.join(work, SWAPPED_MARKER)) });
    }
  }
  return ours;
}

/**
 * What archives of the volume leave out, with a warning each: the work directories of finished
 * restores that could not remove the previous data (an immutable file, say). The admin replaced
 * that data, so it is no part of the volume; every archive says so until someone removes it.
 */
export async function leftoverWorkDirs(volumeDir: string): Promise<{ name: string; why: string }[]> {
  return (await ourWorkDirs(volumeDir))
    .filter((w) => w.committed)
    .map((w) => ({ name: w.name, why: `left out: the previous data that restore ${w.id} replaced and could not remove; remove ${path.join(volumeDir, w.name)} by hand` }));
}

/** Whether the volume holds a work directory of ours (a restore that is running or was interrupted). */
export async function hasWorkDirs(volumeDir: string): Promise<boolean> {
  return (await ourWorkDirs(volumeDir)).length > 0;
}

export async function exists(p: string | Buffer): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

/** The volume root's times from before the work directory was made (restore.json), if it recorded them. */
export async function createdRootTimes(work: string): Promise<DirTimes | undefined> {
  try {
    const { rootTimes: t } = JSON.parse(await fs.readFile(path.join(work, OWNER_FILE), 'utf8')) as {
      rootTimes?: { atimeMs?: unknown; mtimeMs?: unknown; atimeNs?: unknown; mtimeNs?: unknown };
    };
    if (typeof t?.atimeNs === 'string' && typeof t.mtimeNs === 'string') return { atimeNs: BigInt(t.atimeNs), mtimeNs: BigInt(t.mtimeNs) };
    // Written by an earlier version: fs.stat's milliseconds as a double, whose fraction still
    // carries the microseconds (a double near 2e12 is exact to about 0.25 µs); truncated to the
    // millisecond, a root's time recovered after an upgrade lost them.
    if (typeof t?.atimeMs !== 'number' || typeof t.mtimeMs !== 'number') return undefined;
    return { atimeNs: msToNs(t.atimeMs), mtimeNs: msToNs(t.mtimeMs) };
  } catch {
    return undefined;
  }
}

/** A millisecond time (a double, as fs.stat's mtimeMs) in nanoseconds, to the microsecond it holds. */
function msToNs(ms: number): bigint {
  const sec = Math.floor(ms / 1000);
  const us = Math.round((ms - sec * 1000) * 1000);
  return BigInt(sec) * 1_000_000_000n + BigInt(us) * 1000n;
}

/**
 * `rm -rf` for trees whose names are bytes and whose paths may be longer than PATH_MAX: what a
 * restore leaves behind (the previous data, a staging directory) holds exactly the names a volume
 * holds. Node's own fs.rm lists directories as UTF-8 strings, so a Latin-1 name would "vanish"
 * (ENOENT) and stay behind; this lists them as bytes.
 *
 * It runs as root on a tree that the share's users can write to while it is being removed, so it
 * never follows a symlink, whatever is swapped in when (a directory listed, then replaced by a
 * symlink to another volume before we go into it, had all of that volume's files deleted). Every
 * directory is opened with O_NOFOLLOW relative to its parent's descriptor (`/proc/self/fd/<fd>/name`
 * resolves like openat(2), see tree-walk.ts), listed and emptied through its own descriptor, and
 * its children unlinked as `/proc/self/fd/<fd>/name` (unlink and rmdir never follow their last
 * component). What readdir said a name is, is only a hint: a "directory" that does not open as one
 * (ELOOP, ENOTDIR) is unlinked as what it is now. Paths stay short at any depth.
 *
 * A large tree goes faster in parallel (removeInLanes): its subdirectories are shared out among
 * several GNU `rm -rf` (race-safe the same way: fts with openat and O_NOFOLLOW), fed the names as
 * bytes by `xargs -0`; then the removal below takes what they left (all of it where rm or xargs is
 * missing) and is the one that reports an error.
 */
import { spawn } from 'node:child_process';
import fs, { constants as fsc } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { quoteName } from '../../core/show-name.js';
import { bin } from './tree-walk.js';

/** removeTreeAsync of a plain string path (from config or path.join). */
export function removeTreeAtAsync(p: string): Promise<void> {
  return removeTreeAsync(Buffer.from(p).toString('latin1'));
}

/** Removals between two turns of the event loop: a few milliseconds even on a slow disk. */
const REMOVALS_PER_TURN = 256;
/** Names read per listing of a directory, and directories among them gone into after it (memory and descriptors per level stay bounded). */
const LIST_NAMES = 4096;
const LIST_DIRS = 256;

/** Test only: lets a test replace what was listed before the removal goes into it (the race this module is safe against). */
export interface RemoveTreeHooks {
  /** After `dir` (a binary string, as shown in errors) was listed, before anything in it is opened; `phase`: sharing out among the lanes, or the removal itself. */
  onListed?: (dir: string, phase: 'lanes' | 'remove') => void;
}

type Removal = { count: number; hooks: RemoveTreeHooks };

/**
 * Removes `target` (a binary-string path) and everything below it; nothing to do when it does not
 * exist. Without holding the event loop: a restore removes the previous data of a volume (hundreds
 * of thousands of files in a PACS store) while it holds job locks that the event loop must keep
 * renewing. Most of a large tree goes in parallel `rm -rf` processes (removeInLanes); the rest by
 * synchronous calls here, with a turn of the event loop after every REMOVALS_PER_TURN removals.
 * (16 asynchronous removals in flight on libuv's threads had been slower on an earlier VM's disk:
 * 6.9 s for the bench's 20,000 documents, against 3.9 s synchronously.) `hooks`: tests only.
 */
export async function removeTreeAsync(target: string, hooks: RemoveTreeHooks = {}): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(bin(target));
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  // The target is the directory lstat described: a symlink or another directory swapped in since is not it.
  const fd = st.isDirectory() ? openDirNoFollow(target, target) : undefined;
  if (fd === undefined) {
    removeName(target); // a non-directory (now): that name is what we remove, never what it points to
    return;
  }
  try {
    const now = fs.fstatSync(fd);
    if (now.dev !== st.dev || now.ino !== st.ino) throw new Error(`cannot remove ${quoteName(target)}: it was replaced by another directory while being removed`);
    const removal: Removal = { count: 0, hooks };
    await removeInLanes(fd, st.dev, target, removal);
    await emptyDir(fd, st.dev, target, removal);
  } finally {
    fs.closeSync(fd);
  }
  if (!rmdirName(target, target)) removeName(target); // a non-directory swapped in while it was emptied
}

/** Unlinks the non-directory `target`; it cannot be taken as one when a directory was swapped in meanwhile. */
function removeName(target: string): void {
  if (!unlinkName(target, target)) throw new Error(`cannot remove ${quoteName(target)}: it was replaced by a directory while being removed`);
}

/**
 * `rm -rf` processes at once, each on its own subdirectories. ext4 serializes removals within one
 * directory, not across directories, and a removal mostly waits for the disk: one at a time is
 * latency-bound. Measured on the bench's documents (20,000 files in 5,600 directories, a disk
 * mounted with `discard`, six alternating runs): one at a time 6.7-8.4 s, eight `rm -rf` 3.9-4.6 s.
 * (Asynchronous removals on libuv's four threads gained 10-20 %, and within one directory nothing.)
 */
const LANES = 8;
/** The tree is opened from the top until it has this many subtrees to share out, at most this deep. */
const MIN_SUBTREES = LANES * 2;
const MAX_SPLIT_DEPTH = 3;
/** A directory with more names than this is handed out whole, not opened (memory stays bounded). */
const MAX_SPLIT_NAMES = 2048;

/** A subtree for rm: `name` in the directory open as `parentFd`, shown as `shown`. */
type Subtree = { parentFd: number; name: string; shown: string };

/**
 * Removes most of the contents of the directory open as `rootFd` with LANES `rm -rf` (via
 * `xargs -0`, so names are passed as bytes), and leaves the rest to emptyDir: the files of the top
 * levels it opened, anything rm could not remove, everything when rm or xargs cannot start. Never
 * fails: what is left, the removal after it finds (and reports, if it cannot remove it either).
 *
 * rm is given `/proc/<our pid>/fd/<parent fd>/<name>`, never a path through the tree: a directory
 * above a subtree swapped for a symlink meanwhile cannot lead rm elsewhere (it would with
 * `<root>/a/b` once `a` is a symlink), and a subtree itself swapped for one is a symlink operand,
 * which rm unlinks. No operand ends in "/" (a name never does): `rm -rf link/` would empty the
 * symlink's target. The parents' descriptors stay open until every rm has ended.
 * `--one-file-system`: rm does not go into another file system mounted in the tree (nor does
 * emptyDir), and an rm that is not GNU's refuses the option and removes nothing (busybox's does:
 * it goes into directories by path, not race-safe).
 */
async function removeInLanes(rootFd: number, dev: number, shown: string, removal: Removal): Promise<void> {
  const held: number[] = [];
  try {
    const top = subdirectoriesOf(rootFd);
    removal.hooks.onListed?.(shown, 'lanes');
    if (top === undefined) return;
    const subtrees: Subtree[] = [];
    let frontier = top.map((name) => ({ parentFd: rootFd, name, shown: `${shown}/${name}` }));
    for (let depth = 1; depth < MAX_SPLIT_DEPTH && frontier.length > 0 && subtrees.length + frontier.length < MIN_SUBTREES; depth++) {
      const next: Subtree[] = [];
      for (const dir of frontier) {
        await nextTurn();
        const fd = openChildDir(dir.parentFd, dir.name, dev);
        if (fd === undefined) continue; // not a directory (of this file system) any more: left to emptyDir
        const children = subdirectoriesOf(fd);
        removal.hooks.onListed?.(dir.shown, 'lanes');
        if (children === undefined || children.length === 0) {
          fs.closeSync(fd);
          if (children === undefined) subtrees.push(dir); // too large to open: handed out whole
          continue;
        }
        held.push(fd); // rm reaches its children through it
        next.push(...children.map((name) => ({ parentFd: fd, name, shown: `${dir.shown}/${name}` })));
      }
      frontier = next;
    }
    subtrees.push(...frontier);
    if (subtrees.length < 2) return;
    const groups: Buffer[][] = Array.from({ length: LANES }, () => []);
    subtrees.forEach((s, i) => groups[i % LANES]!.push(bin(`/proc/${process.pid}/fd/${s.parentFd}/${s.name}`), Buffer.of(0)));
    await Promise.all(groups.filter((g) => g.length > 0).map((g) => rmViaXargs(Buffer.concat(g))));
  } finally {
    for (const fd of held) fs.closeSync(fd);
  }
}

/** The names of the subdirectories in the directory open as `fd`, or undefined when it cannot be read or holds more than MAX_SPLIT_NAMES names. */
function subdirectoriesOf(fd: number): string[] | undefined {
  let handle: fs.Dir | undefined;
  try {
    handle = fs.opendirSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' as BufferEncoding });
    const dirs: string[] = [];
    let names = 0;
    for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
      if (++names > MAX_SPLIT_NAMES) return undefined;
      if (d.isDirectory()) dirs.push((d.name as unknown as Buffer).toString('latin1'));
    }
    return dirs;
  } catch {
    return undefined;
  } finally {
    handle?.closeSync();
  }
}

/** A descriptor of the directory `name` in the one open as `parentFd`, if it is one on file system `dev`; never fails. */
function openChildDir(parentFd: number, name: string, dev: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(bin(`/proc/self/fd/${parentFd}/${name}`), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    if (fs.fstatSync(fd).dev === dev) return fd;
  } catch {
    // gone, or not a directory now: emptyDir takes it
  }
  if (fd !== undefined) fs.closeSync(fd);
  return undefined;
}

/** `xargs -0 rm -rf --one-file-system -- <paths>`; settles when it has ended, whatever its exit code. */
function rmViaXargs(paths: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('xargs', ['-0', '-r', 'rm', '-rf', '--one-file-system', '--'], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.once('error', () => resolve());
    child.once('close', () => resolve());
    child.stdin.once('error', () => undefined);
    child.stdin.end(paths);
  });
}

/**
 * Empties the directory open as `fd` (on file system `dev`, shown as `shown`), depth-first: its
 * non-directories are unlinked as they are listed, its directories gone into after the listing is
 * closed, so one descriptor per level is open. A directory removed by someone else meanwhile (an
 * `rm -rf` that a killed worker left running, while the recovery removes the same tree) simply
 * lists nothing more; its parent's rmdir still tells whether everything went.
 */
async function emptyDir(fd: number, dev: number, shown: string, removal: Removal): Promise<void> {
  const at = `/proc/self/fd/${fd}`;
  if (process.geteuid?.() !== 0) fs.fchmodSync(fd, 0o700); // not root: a read-only directory of the tree could not be emptied
  for (;;) {
    const dirs: string[] = [];
    let listed = 0;
    const handle = fs.opendirSync(at, { encoding: 'buffer' as BufferEncoding });
    try {
      for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
        const name = (d.name as unknown as Buffer).toString('latin1');
        if (d.isDirectory() || !unlinkName(`${at}/${name}`, `${shown}/${name}`)) dirs.push(name);
        else await paced(removal);
        if (++listed >= LIST_NAMES || dirs.length >= LIST_DIRS) break;
      }
    } finally {
      handle.closeSync();
    }
    if (listed === 0) return;
    removal.hooks.onListed?.(shown, 'remove');
    for (const name of dirs) await removeDir(fd, dev, name, `${shown}/${name}`, removal);
  }
}

/** Removes `name`, listed as (or found to be) a directory in the one open as `parentFd`, with what is in it. */
async function removeDir(parentFd: number, dev: number, name: string, shown: string, removal: Removal): Promise<void> {
  const p = `/proc/self/fd/${parentFd}/${name}`;
  const fd = openDirNoFollow(p, shown);
  if (fd === undefined) {
    // Gone, or a symlink or file now (swapped in since the listing): unlinked, never followed. If
    // it is a directory again by now, the parent's next listing finds it.
    unlinkName(p, shown);
    await paced(removal);
    return;
  }
  try {
    if (fs.fstatSync(fd).dev !== dev) throw new Error(`cannot remove ${quoteName(shown)}: another file system is mounted there`);
    await emptyDir(fd, dev, shown, removal);
  } finally {
    fs.closeSync(fd);
  }
  rmdirName(p, shown);
  await paced(removal);
}

/** A descriptor of the directory at `p`, never through a symlink at its last component; undefined when `p` is gone or is no directory now. */
function openDirNoFollow(p: string, shown: string): number | undefined {
  for (let attempt = 0; ; attempt++) {
    try {
      return fs.openSync(bin(p), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') return undefined;
      // Not root, a directory without read permission (an archive's mode 0000): made readable by
      // path (there is no lchmod), which a symlink swapped in could only turn to a file we own
      // anyway. Root never gets here.
      if (c === 'EACCES' && attempt === 0 && process.geteuid?.() !== 0 && fs.lstatSync(bin(p), { throwIfNoEntry: false })?.isDirectory()) fs.chmodSync(bin(p), 0o700);
      else throw cannotRemove(shown, err);
    }
  }
}

/** Unlinks the non-directory `p` (its last component is never followed); false when it is a directory. */
function unlinkName(p: string, shown: string): boolean {
  try {
    fs.unlinkSync(bin(p));
  } catch (err) {
    if (code(err) === 'EISDIR') return false;
    if (code(err) !== 'ENOENT') throw cannotRemove(shown, err);
  }
  return true;
}

/** rmdir of an emptied directory; false when a non-directory was swapped in since (below the top, the parent's next listing finds it). */
function rmdirName(p: string, shown: string): boolean {
  try {
    fs.rmdirSync(bin(p));
  } catch (err) {
    if (code(err) === 'ENOTDIR') return false;
    if (code(err) !== 'ENOENT') throw cannotRemove(shown, err);
  }
  return true;
}

async function paced(removal: Removal): Promise<void> {
  if (++removal.count % REMOVALS_PER_TURN === 0) await nextTurn();
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** The error names the entry as shown, not the /proc path it was reached by (its descriptor number means nothing to a reader). */
function cannotRemove(shown: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const at = e.syscall ? e.message.indexOf(`, ${e.syscall}`) : -1;
  return new Error(`cannot remove ${quoteName(shown)}: ${at > 0 ? e.message.slice(0, at) : e.message}`, { cause: err });
}

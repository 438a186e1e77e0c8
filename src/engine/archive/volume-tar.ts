/**
 * The tar stream of one volume, in GNU tar's own format (header.ts), from a walk of the live tree
 * (../fs/tree-walk.ts) into the compressor.
 *
 * A live tree (a running MariaDB) changes while it is read: an entry confirmed gone is skipped
 * with a warning, a file that shrinks is zero-padded to the size in its header, one that grows is
 * cut at that size (each a warning, so the stream stays a valid tar); an entry that changed its
 * type is archived as what it is now, once. Anything else that cannot be read fails the archive.
 *
 * File data is read with synchronous reads straight into the compressor's chunk buffers, and the
 * tree is walked with synchronous lstat: asynchronous fs calls would queue in the threadpool behind
 * the compression jobs. `pace` gives the event loop a turn every couple of milliseconds, so the
 * compression jobs keep going and progress, abort and lock renewals keep working.
 */
import fs, { constants as fsc, type Stats } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { quoteName } from '../../core/show-name.js';
import type { EntryDigest, EntryFields } from '../entry-digest.js';
import type { EntryType } from '../entry-record.js';
import { bin, confirmedGone, isGoneError, walkError, walkTree } from '../fs/tree-walk.js';
import { heapNudger } from '../gzip/gc-nudge.js';
import { GzipChunkWriter } from '../gzip/parallel-gzip.js';
import { MAX_SYNC_MS } from '../gzip/zlib-slots.js';
import { encodeHeader, type WriteHeader, type WriteType } from '../tar/header.js';

export interface ArchiveProgress {
  bytesDone: number;
  bytesTotal: number;
  entries: number;
}

export interface VolumeTarContext {
  volumeDir: string;
  /** Exact top-level names to leave out (see ArchiveVolumeOptions.skipTopNames). */
  skipTop: ReadonlySet<string>;
  signal: AbortSignal | undefined;
  /** `entry` is a binary string (shown escaped by the caller). */
  warn: (entry: string, code: string, message: string) => void;
  digest: EntryDigest;
  /** Every entry as it goes into the digest (the entry index). */
  onEntry?: (e: EntryFields) => void;
  progress: ArchiveProgress;
  report: () => void;
}

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);
/** GNU tar's record: its default blocking factor of 20 blocks. */
const RECORD = 20 * BLOCK;

/** Writes the tar stream of `c.volumeDir` into `z`; resolves when every entry and the end-of-archive marker are in. */
export async function writeVolumeTar(z: GzipChunkWriter, c: VolumeTarContext): Promise<void> {
  const { volumeDir, skipTop, signal, warn, digest, onEntry, progress, report } = c;
  let lastTurn = Date.now();
  /**
   * Back-pressure from the compressor, and a turn for the event loop at least every MAX_SYNC_MS
   * (2 ms): the compression jobs' next threadpool round trips start from there, and progress,
   * abort and lock renewals need it too.
   */
  const pace = async () => {
    const wait = z.ready();
    if (wait) {
      await wait;
      lastTurn = Date.now();
    } else if (Date.now() - lastTurn > MAX_SYNC_MS) {
      await nextTurn();
      lastTurn = Date.now();
    }
    signal?.throwIfAborted();
  };

  /** The entry's header blocks (GNU format, exact name bytes), and its line in the entry digest. */
  const header = (h: WriteHeader) => {
    z.write(encodeHeader(h));
    const fields: EntryFields = {
      type: TYPE_OF[h.type], name: h.name, link: h.linkname, size: h.type === '0' ? h.size : 0,
      mode: h.mode, uid: h.uid, gid: h.gid, mtimeSec: h.mtime, mtimeNsec: 0,
    };
    digest.add(fields);
    onEntry?.(fields);
    progress.entries++;
    report();
  };

  // Hard links: dev:ino → the first archived link's name and ctime. Only files with nlink > 1 get
  // here. A later name of the same dev:ino is stored as a link to it only while the inode's ctime is
  // the one seen then: linking, unlinking and writing all change it, and an inode freed and given to
  // a new file during the archive has another (an audit made one: GNU tar, keyed on dev:ino alone,
  // stores the new file as a link to the old one's content). Such a name is stored with its content.
  const links = new Map<string, { name: string; ctimeMs: number }>();
  const linkTo = (st: Stats, rel: string): string | undefined => {
    if (st.nlink < 2) return undefined;
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first?.ctimeMs === st.ctimeMs) return first.name;
    if (first !== undefined) warn(rel, 'ECHANGED', `hard link of "${first.name}" whose inode changed during the archive: stored with its own content, not as a link`);
    links.set(key, { name: rel, ctimeMs: st.ctimeMs });
    return undefined;
  };

  /**
   * A regular file (as far as the walk knows): opened first, then described by fstat. Returns
   * the lstat of what is there now when it turned out not to be a regular file any more.
   */
  const fileEntry = async (rel: string, p: string): Promise<Stats | undefined> => {
    let fd: number;
    try {
      // O_NOFOLLOW: if the file was swapped for a symlink since it was listed, do not archive the
      // target. O_NONBLOCK: if it was swapped for a FIFO, do not wait for a writer (no effect on
      // regular files).
      fd = fs.openSync(bin(p), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (isGoneError(err) && confirmedGone(p)) {
        vanished(rel, code ?? 'ENOENT');
        return undefined;
      }
      if (code === 'ELOOP') return lstatOrGone(rel, p);
      throw walkError(rel, 'open', err);
    }
    try {
      // Describe the file we actually opened (it may have changed since it was listed).
      const before = fs.fstatSync(fd);
      if (!before.isFile()) return before;
      const meta = metaOf(before, () => fs.fstatSync(fd, { bigint: true }));
      const first = linkTo(before, rel);
      if (first !== undefined) {
        header({ name: rel, type: '1', linkname: first, size: 0, ...meta });
        return undefined;
      }
      const size = before.size;
      header({ name: rel, type: '0', size, ...meta });
      let pos = 0;
      while (pos < size) {
        // Straight into the compressor's chunk: no copy, and reads as large as the chunk allows.
        const space = z.space();
        const want = Math.min(space.length, size - pos);
        let bytesRead: number;
        try {
          bytesRead = fs.readSync(fd, space, 0, want, pos);
        } catch (err) {
          throw walkError(rel, 'read', err);
        }
        if (bytesRead === 0) break;
        z.commit(bytesRead);
        pos += bytesRead;
        progress.bytesDone += bytesRead;
        report();
        await pace();
      }
      if (pos < size) {
        // The header promised `size` bytes; the tar stream is only valid if we deliver them.
        // As GNU tar says it ("File shrank by N bytes; padding with zeros"): the bytes missing.
        warn(rel, 'ESHRUNK', `shrank by ${size - pos} bytes while being read (${pos} of ${size} read), padded with zeros`);
        z.zeros(size - pos);
      } else {
        const after = fs.fstatSync(fd);
        // ctime too, as GNU tar does: a file rewritten in place with its mtime put back (cp -p,
        // rsync --inplace -t) keeps size and mtime, but not its ctime.
        if (after.size !== size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
          const what = after.size !== size ? `size ${size} → ${after.size}` : after.mtimeMs !== before.mtimeMs ? 'modified' : 'status changed: rewritten with its old mtime put back, or its owner, mode or links changed';
          warn(rel, 'ECHANGED', `changed while being read (${what}), archived copy may be inconsistent`);
        }
      }
      z.write(ZEROS.subarray(0, (BLOCK - (size % BLOCK)) % BLOCK));
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  };

  const vanished = (rel: string, code: string) => warn(rel, code, 'vanished before it could be read, skipped');

  /** A fresh lstat of an entry that changed its type under us; undefined (with a warning) when it is gone. */
  const lstatOrGone = (rel: string, p: string): Stats | undefined => {
    try {
      return fs.lstatSync(bin(p));
    } catch (err) {
      if (isGoneError(err)) {
        vanished(rel, (err as NodeJS.ErrnoException).code ?? 'ENOENT');
        return undefined;
      }
      throw walkError(rel, 'read', err);
    }
  };

  const symlinkEntry = (rel: string, p: string, st: Stats): Stats | undefined => {
    let target: string;
    try {
      target = (fs.readlinkSync(bin(p), { encoding: 'buffer' }) as Buffer).toString('latin1');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (isGoneError(err) && confirmedGone(p)) {
        vanished(rel, code ?? 'ENOENT');
        return undefined;
      }
      if (code === 'EINVAL') return lstatOrGone(rel, p); // no longer a symlink
      throw walkError(rel, 'read the symlink', err);
    }
    const meta = metaOf(st, () => fs.lstatSync(bin(p), { bigint: true }));
    // A hard link to a symlink (one inode, two names) stays one, as GNU tar keeps it.
    const first = linkTo(st, rel);
    if (first !== undefined) {
      header({ name: rel, type: '1', linkname: first, size: 0, ...meta });
      return undefined;
    }
    header({ name: rel, type: '2', linkname: target, size: 0, ...meta });
    return undefined;
  };

  /**
   * One entry of the walk. An entry that changed its type between the walk's look and ours is
   * archived as what it is now (once); a directory that appeared in place of a file cannot be
   * walked from here, so that fails the attempt (the retry archives the tree as it is then).
   */
  const entry = async (rel: string, p: string, st: Stats | undefined, again = false): Promise<void> => {
    let changed: Stats | undefined;
    if (st === undefined || st.isFile()) changed = await fileEntry(rel, p);
    else if (st.isDirectory()) header({ name: rel === '.' ? './' : `${rel}/`, type: '5', size: 0, ...metaOf(st, () => fs.lstatSync(bin(p), { bigint: true })) });
    else if (st.isSymbolicLink()) changed = symlinkEntry(rel, p, st);
    // Sockets, FIFOs and devices hold no data, and a restore refuses FIFOs and devices (a device
    // node in a data volume is a way into the server's disks), so they are left out, loudly.
    else warn(rel, 'EUNSUPPORTED', `is a ${kindOf(st)}, not a file, directory or symlink, skipped`);
    if (changed === undefined) return;
    if (again || changed.isDirectory()) {
      throw new Error(`${quoteName(rel)} changed its type while being archived (now a ${kindOf(changed)}); the next attempt archives it as it is then`);
    }
    await entry(rel, p, changed, true);
  };

  const nudge = heapNudger();
  for (const { rel, path: p, stat: st } of walkTree(volumeDir, { signal, skipTop, statFiles: false, onVanished: vanished, onChanged: (rel, m) => warn(rel, 'ECHANGED', m) })) {
    signal?.throwIfAborted();
    nudge();
    await entry(rel, p, st);
    await pace();
  }
  z.write(ZEROS); // end-of-archive marker
  // GNU tar writes whole records of 20 blocks: the rest of the last one is zeros (the very stream).
  z.zeros((RECORD - (z.written % RECORD)) % RECORD);
}

const TYPE_OF: Record<WriteType, EntryType> = { '0': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };

/**
 * Owner, permission bits and mtime as GNU tar stores them: numeric ids (names would need NSS), the
 * mtime in whole seconds rounded toward minus infinity (also before 1970), as GNU format holds it.
 * `exact` is the same stat in nanoseconds, asked for only when the millisecond double is within a
 * microsecond above a whole second: it has ~240 ns of precision at today's dates, so x.999999999 s
 * can arrive as (x+1).000 and would be archived a second late.
 */
function metaOf(st: Stats, exact: () => fs.BigIntStats): Pick<WriteHeader, 'mode' | 'uid' | 'gid' | 'mtime'> {
  let mtime = Math.floor(st.mtimeMs / 1000);
  if (st.mtimeMs - mtime * 1000 < 0.001) mtime = floorSeconds(exact().mtimeNs);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime };
}

/** Whole seconds of a nanosecond time, toward minus infinity (BigInt division truncates toward zero). */
function floorSeconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'regular file';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

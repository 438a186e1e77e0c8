/**
 * Archive one volume directory into `<backupDir>/<fileName>` (tar.gz), streaming, crash-safe.
 *
 * The archive is equivalent to `tar -C <volumeDir> -czf <file> .` (entries "./", "./a/", "./a/b",
 * owners, modes, mtimes, symlinks, hard links, empty directories), so an admin can restore it by hand
 * with GNU tar.
 *
 * Why we do not use node-tar's `create()`: its walker and WriteEntry turn every change of a live tree
 * into a fatal 'error' (never a 'warn', whatever `strict` says): a file deleted between readdir and
 * lstat/open (ENOENT), a file that shrinks while read ("encountered unexpected EOF") and even a file
 * that grows ("did not encounter expected EOF"); after such an error the pack stream stalls. A running
 * MariaDB does all three. So we walk the tree ourselves and only borrow node-tar's Header/Pax
 * encoders: a vanished entry is skipped, a shrunk file is zero-padded to the size in its header, a
 * grown file is cut at that size, and each case becomes a warning instead of a failed backup.
 *
 * Publication order: archive data → fsync → sidecars (.sha256, .manifest.json, each atomic) → rename
 * the archive to its final name → fsync the directory. The final name is the commit point, so an
 * archive under its final name always has its checksum next to it.
 *
 * Speed (see BENCHMARKS.md): the tar stream is built in 2 MiB chunks that are gzip-compressed
 * concurrently in the libuv threadpool and written in order as gzip members (src/engine/gzip/parallel-gzip.ts);
 * chunks of already-compressed data (image pixel data, zip blobs) are stored instead of compressed.
 * The result is still one standard .tar.gz. File data is read with synchronous reads straight into
 * the chunk buffers, and the tree is walked with synchronous lstat: asynchronous fs calls would
 * queue in the threadpool behind the compression jobs. The event loop still gets a turn every
 * couple of milliseconds, so the compression jobs keep going (their next threadpool round trip
 * starts from there) and progress, abort and lock renewals keep working.
 * `gzipParallel: false` writes the classic single gzip member with one zlib stream.
 */
import { createHash } from 'node:crypto';
import fs, { constants as fsc, type Stats } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { quoteName, showName } from '../../core/show-name.js';
import { EntryDigest } from '../entry-digest.js';
import type { EntryType } from '../entry-record.js';
import { bin, confirmedGone, isGoneError, walkError, walkTree } from '../fs/tree-walk.js';
import { encodeHeader, type WriteHeader, type WriteType } from '../tar/header.js';
import { exists, fsyncDir, writeFileAtomic } from '../fs/atomic.js';
import { GzipChunkWriter, writevAll } from '../gzip/parallel-gzip.js';
import { MAX_SYNC_MS } from '../gzip/zlib-slots.js';
import { progressReporter } from '../progress.js';

const fsync = promisify(fs.fsync);

export interface ArchiveProgress {
  bytesDone: number;
  bytesTotal: number;
  entries: number;
}

export interface ArchiveVolumeOptions {
  volume: string;
  volumeDir: string;
  backupDir: string;
  /** Final archive name, e.g. "elexisdb_2026-11-21-0315.tar.gz" (the caller computes it). */
  fileName: string;
  gzipLevel: number;
  /**
   * Compress 2 MiB chunks on all cores as independent gzip members and store incompressible ones
   * (default true; config.gzipParallel, GZIP_PARALLEL). false: one sequential gzip stream.
   */
  gzipParallel?: boolean;
  /** Chunk size of the parallel mode (default 2 MiB); tests use small ones to get many members. */
  gzipChunkSize?: number;
  /** Throttled to one call per progressIntervalMs, plus a final one. Exceptions are logged, not fatal. */
  onProgress?: (p: ArchiveProgress) => void;
  /** Default 500 ms. 0 reports after every entry and every chunk read (tests, fine-grained UIs). */
  progressIntervalMs?: number;
  logger: Logger;
  /** Abort → stop, remove the .partial, reject. */
  signal?: AbortSignal;
}

export interface ArchiveResult {
  file: string;
  path: string;
  /** Compressed size of the archive file. */
  size: number;
  sha256: string;
  /** Tar entries written (files, directories, symlinks, hard links, including the root "./"). */
  entries: number;
  /** Digest of the entry list (entry-digest.ts), which verification recomputes with our reader and GNU tar. */
  entryDigest: string;
  /** Sum of the archived files' sizes (content as restored). */
  contentBytes: number;
  /** Bytes of file content read from the volume. */
  bytesRead: number;
  durationMs: number;
  warnings: string[];
}

export function partialPath(backupDir: string, fileName: string): string {
  return `${path.join(backupDir, fileName)}.partial`;
}

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);

export async function archiveVolume(o: ArchiveVolumeOptions): Promise<ArchiveResult> {
  const started = Date.now();
  const { volume, volumeDir, backupDir, fileName, logger, signal } = o;
  const fail = (message: string, cause?: unknown) =>
    new Error(`volume "${volume}": ${message}`, cause === undefined ? undefined : { cause });

  if (!fileName || fileName !== path.basename(fileName) || fileName === '.' || fileName === '..') {
    throw fail(`invalid archive file name ${JSON.stringify(fileName)}`);
  }
  if (!Number.isInteger(o.gzipLevel) || o.gzipLevel < 0 || o.gzipLevel > 9) {
    throw fail(`gzip level must be an integer 0-9, got ${o.gzipLevel}`);
  }
  const finalPath = path.join(backupDir, fileName);
  const partial = partialPath(backupDir, fileName);
  const shaPath = `${finalPath}.sha256`;
  const manifestPath = `${finalPath}.manifest.json`;

  let rootStat: Stats;
  try {
    rootStat = await stat(volumeDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fail(`directory ${volumeDir} does not exist`, err);
    throw fail(`cannot access directory ${volumeDir}: ${(err as Error).message}`, err);
  }
  if (!rootStat.isDirectory()) throw fail(`${volumeDir} is not a directory`);

  const warnings: string[] = [];
  /** `entry` is a binary string: shown escaped, never altered. */
  const warn = (entry: string, code: string, message: string) => {
    warnings.push(`${quoteName(entry)}: ${message} (${code})`);
    logger.warn({ volume, path: showName(entry), code }, `archive: ${quoteName(entry)}: ${message}`);
  };
  const digest = new EntryDigest();

  const progress: ArchiveProgress = { bytesDone: 0, bytesTotal: 0, entries: 0 };
  const reportTo = progressReporter(o.onProgress, o.progressIntervalMs, logger.child({ volume }));
  const report = (final = false) => reportTo(progress, final);

  /** Writes the tar stream into `z`; resolves when every entry and the end-of-archive marker are in. */
  async function writeTar(z: GzipChunkWriter): Promise<void> {
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
      digest.add({
        type: TYPE_OF[h.type], name: h.name, link: h.linkname, size: h.type === '0' ? h.size : 0,
        mode: h.mode, uid: h.uid, gid: h.gid, mtimeSec: h.mtime, mtimeNsec: 0,
      });
      progress.entries++;
      report();
    };

    // Hard links: dev:ino → name of the first archived link. Only files with nlink > 1 get here.
    const links = new Map<string, string>();

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
        const meta = metaOf(before);
        const first = before.nlink > 1 ? links.get(`${before.dev}:${before.ino}`) : undefined;
        if (first !== undefined) {
          header({ name: rel, type: '1', linkname: first, size: 0, ...meta });
          return undefined;
        }
        const size = before.size;
        header({ name: rel, type: '0', size, ...meta });
        if (before.nlink > 1) links.set(`${before.dev}:${before.ino}`, rel);
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
          warn(rel, 'ESHRUNK', `shrank from ${size} to ${pos} bytes while being read, padded with zeros`);
          z.zeros(size - pos);
        } else {
          const after = fs.fstatSync(fd);
          if (after.size !== size || after.mtimeMs !== before.mtimeMs) {
            warn(rel, 'ECHANGED', `changed while being read (size ${size} → ${after.size}), archived copy may be inconsistent`);
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
      header({ name: rel, type: '2', linkname: target, size: 0, ...metaOf(st) });
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
      else if (st.isDirectory()) header({ name: rel === '.' ? './' : `${rel}/`, type: '5', size: 0, ...metaOf(st) });
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

    for (const { rel, path: p, stat: st } of walkTree(volumeDir, { signal, statFiles: false, onVanished: vanished })) {
      signal?.throwIfAborted();
      await entry(rel, p, st);
      await pace();
    }
    z.write(ZEROS); // end-of-archive marker
  }

  let sidecarsWritten = false;
  let renamed = false;
  try {
    if (await exists(finalPath)) throw fail(`archive ${finalPath} already exists`);
    // Stale leftovers of a crashed attempt (never under the final name, so safe to drop).
    await Promise.all([partial, `${shaPath}.partial`, `${manifestPath}.partial`].map((p) => rm(p, { force: true })));
    signal?.throwIfAborted();

    progress.bytesTotal = await treeSize(volumeDir, signal);
    const walked = Date.now();

    const hash = createHash('sha256');
    let size = 0;
    let out = -1;
    const z = new GzipChunkWriter({
      level: o.gzipLevel,
      parallel: o.gzipParallel ?? true,
      chunkSize: o.gzipChunkSize,
      onOutput: (parts) => {
        for (const p of parts) hash.update(p);
        size += writevAll(out, parts);
      },
    });
    out = fs.openSync(partial, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o640);
    let written = 0;
    try {
      await writeTar(z);
      await z.end();
      written = Date.now();
      await fsync(out);
    } finally {
      // Before the close: a compression finishing late must not write to a reused descriptor.
      z.abort();
      fs.closeSync(out);
    }
    report(true);
    logger.debug(
      { volume, walkMs: walked - started, writeMs: written - walked, fsyncMs: Date.now() - written, ...z.stats },
      'archive: data written',
    );
    const sha256 = hash.digest('hex');
    const durationMs = Date.now() - started;
    const result: ArchiveResult = {
      file: fileName,
      path: finalPath,
      size,
      sha256,
      entries: digest.entries,
      entryDigest: digest.digest(),
      contentBytes: digest.contentBytes,
      bytesRead: progress.bytesDone,
      durationMs,
      warnings,
    };

    // rename() would silently replace an archive that appeared meanwhile; we never overwrite.
    if (await exists(finalPath)) throw fail(`archive ${finalPath} already exists`);
    sidecarsWritten = true;
    await writeFileAtomic(shaPath, `${sha256}  ${fileName}\n`);
    const manifest = {
      volume,
      file: fileName,
      size: result.size,
      sha256,
      format: 'gnu',
      entries: result.entries,
      entryDigest: result.entryDigest,
      contentBytes: result.contentBytes,
      bytesRead: result.bytesRead,
      durationMs,
      startedAt: new Date(started).toISOString(),
      createdAt: new Date().toISOString(),
      warnings: warnings.length,
      // The first warnings themselves (names escaped), so the listing can say what was skipped.
      warningMessages: warnings.slice(0, MAX_MANIFEST_WARNINGS),
      tool: 'oob-backup',
    };
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

    signal?.throwIfAborted();
    await rename(partial, finalPath);
    renamed = true;
    await fsyncDir(backupDir);
    return result;
  } catch (err) {
    const cleanup = [partial, `${shaPath}.partial`, `${manifestPath}.partial`];
    // The archive never got its final name, so its sidecars must not claim it exists. (After the
    // rename it is complete; only the directory fsync failed, so it stays.)
    if (sidecarsWritten && !renamed) cleanup.push(shaPath, manifestPath);
    await Promise.all(cleanup.map((p) => rm(p, { force: true }).catch(() => undefined)));
    if (err instanceof Error && err.message.startsWith(`volume "${volume}": `)) throw err;
    if (signal?.aborted) throw fail(`archiving ${volumeDir} aborted`, err);
    throw fail(`archiving ${volumeDir} to ${finalPath} failed: ${(err as Error).message}`, err);
  }
}

/** Total size of regular files (each hard-linked inode once): the denominator for progress. */
async function treeSize(root: string, signal?: AbortSignal): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  let lastTurn = Date.now();
  // An entry that vanishes now is reported (or fails the job) by the archive pass itself.
  for (const { stat: st } of walkTree(root, { signal })) {
    if (Date.now() - lastTurn > MAX_SYNC_MS) {
      await nextTurn();
      lastTurn = Date.now();
    }
    if (!st?.isFile()) continue;
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    total += st.size;
  }
  return total;
}

const TYPE_OF: Record<WriteType, EntryType> = { '0': 'file', '1': 'hardlink', '2': 'symlink', '5': 'dir' };
const MAX_MANIFEST_WARNINGS = 100;

/**
 * Owner, permission bits and mtime as GNU tar stores them: numeric ids (names would need NSS), the
 * mtime in whole seconds rounded toward minus infinity (also before 1970), as GNU format holds it.
 */
function metaOf(st: Stats): Pick<WriteHeader, 'mode' | 'uid' | 'gid' | 'mtime'> {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
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

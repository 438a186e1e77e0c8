/**
 * Check and extract a volume archive (gzip tar, as made by `tar -C <volume> -czf x.tar.gz .`, by our
 * own writer in archive-volume.ts, or by pigz as several gzip members) into a staging directory.
 *
 * One streaming pass: file → sha256 of the compressed bytes → gunzip → our tar reader
 * (src/engine/tar/reader.ts, which reads the format as GNU tar does: names as bytes, pax records by
 * their length, GNU long names, base-256 numbers, every GNU sparse format) → our own entry writer.
 * We do not use node-tar: it decodes names as UTF-8 (a Latin-1 name comes back altered), splits pax
 * records on newlines, is slow for many small files, and its Unpack strips `..` and absolute paths
 * and extracts the rest, where we refuse the whole archive.
 *
 * Names are bytes end to end (binary strings here, Buffers at every syscall), and paths longer
 * than PATH_MAX are reached through directory descriptors (src/engine/fs/deep-paths.ts). Large
 * files are written with their zero blocks left as holes (src/engine/extract/hole-writer.ts), and
 * sparse entries at their offsets, so a sparse database file comes back sparse.
 *
 * Gunzip (src/engine/gzip/parallel-gunzip.ts `readGzipFile`): archives of our parallel writer carry the length
 * of every gzip member in its header, so several members are inflated at once in the threadpool;
 * any other gzip (GNU tar, gzip, pigz, several members or one) goes through one streaming zlib
 * gunzip that works on the next piece while we write the previous one. Either way the decoded bytes
 * and the errors are those of zlib over the whole file.
 *
 * The entry writer works synchronously inside the reader's callbacks (open/write/futimes/close per
 * file, plus fchown/fchmod only where they change something; no awaits): we finish one decoded chunk
 * before the next one is accepted, so memory is bounded by a few chunks whatever the archive size,
 * and the event loop gets a turn between chunks (abort, progress, other jobs). When creating files
 * turns out to be slow, small files go to writer threads instead (extract-writers.ts; WriterSettings
 * says when), after the same checks, into directories this thread made.
 *
 * Safety: nothing is ever written outside the staging directory. Any hostile entry (absolute path,
 * `..` component, NUL in a name, device, FIFO, symlink pointing outside, hard link to something
 * outside or not extracted before, entry below a symlink of the archive) rejects the whole archive
 * with a HostileArchiveError before anything is created for it. Files are created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so even a bug in these checks could not make us write through a symlink.
 * The caller removes the staging directory after any failure.
 *
 * Every entry also goes into an entry digest (src/engine/entry-digest.ts), which verification
 * compares with GNU tar's reading of the same archive and with the manifest written at archive time.
 */
import { createHash } from 'node:crypto';
import fs, { constants as fsc } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { quoteName } from '../../core/show-name.js';
import { ArchiveError, HostileArchiveError, type ArchiveErrorKind } from '../archive-errors.js';
import { EntryDigest, type EntryFields } from '../entry-digest.js';
import { writeSkippingZeros } from './hole-writer.js';
import { PathHashSet } from './path-hash-set.js';
import { checkSymlinkTarget, parentOf, resolvesOutside, safeRelative } from './path-safety.js';
import { DeepPaths } from '../fs/deep-paths.js';
import { bin } from '../fs/tree-walk.js';
import { TarReader, type TarEntry } from '../tar/reader.js';
import { GzipDataError } from '../gzip/gzip-members.js';
import { readGzipFile } from '../gzip/parallel-gunzip.js';
import { progressReporter } from '../progress.js';
import { applyFileMeta, asTime, CREATE_FLAGS, writeAll, type FileMeta } from './extract-file.js';
import { DEFAULT_STALL_MS, ExtractWriters, MAX_POOLED_FILE, type Reservation, type WriterFailure } from './extract-writers.js';

export interface RootMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

export interface ExtractProgress {
  /** Bytes of the compressed archive file read so far. */
  bytesDone: number;
  /** Size of the compressed archive file. */
  bytesTotal: number;
  entries: number;
}

export interface ExtractOptions {
  /** From the .sha256 sidecar; null/undefined for archives without one. */
  expectedSha256?: string | null;
  /** Throttled to about two calls per second, plus a final one. Exceptions are logged, not fatal. */
  onProgress?: (p: ExtractProgress) => void;
  signal?: AbortSignal;
  logger: Logger;
  /**
   * Refuse the archive when uncompressed tar bytes / compressed bytes read exceeds this (a guard
   * against decompression bombs). Default: none (0 = unlimited), because real volumes legitimately
   * exceed any tight limit: sparse or preallocated, zero-filled database files (InnoDB tablespaces,
   * ib_logfile*, redo logs) compress by far more than 1000x, so node-tar's default of 1000 would
   * refuse genuine backups of a MariaDB data directory. The staging space check before a restore
   * is the real protection against filling the disk.
   */
  maxDecompressionRatio?: number;
  /** Writer threads for small files; see WriterSettings. Not used by verifyArchive. */
  writers?: WriterSettings;
  /** Every entry as read, in archive order (for comparing readers entry by entry). */
  onEntry?: (e: EntryFields) => void;
}

/**
 * Writer threads for small files (extract-writers.ts), started only when the file system is slow
 * to create files: they pay where the kernel spends long per new file (a busy or remote disk, ext4
 * without a journal shortly after many deletions: 5-7 s instead of 1-1.5 s for 20,000 documents),
 * and on a fast file system they only add CPU, which the main thread alone does not need.
 */
export interface WriterSettings {
  /** 0: everything on the calling thread. Default: 2 where there are 2 or more cores. */
  threads: number;
  /**
   * Start them when the main thread's open() of a new small file took longer than this on average
   * in two consecutive windows of FILES_PER_CHECK files. Default SLOW_OPEN_MICROS; 0 starts them
   * at the first small file (tests).
   */
  slowOpenMicros?: number;
  /** Block until they are up once started, instead of writing on meanwhile (tests). */
  waitUntilReady?: boolean;
  /**
   * A thread that finishes nothing for this long fails the restore (default DEFAULT_STALL_MS). The
   * main thread waits for it synchronously, so keep it well below the job lock's duration.
   */
  stallMs?: number;
}

export interface ExtractResult {
  /** Hex sha256 of the compressed archive file. */
  sha256: string;
  /** Tar entries (files, directories, symlinks, hard links, the root "./"; not pax/long-name headers). */
  entries: number;
  /** Regular-file paths, including additional hard links to a file. */
  files: number;
  /** Content bytes of the regular files, as restored (a sparse file counts with its full size). */
  bytes: number;
  /** Digest of the entry list (entry-digest.ts), to compare with GNU tar's listing and the manifest. */
  entryDigest: string;
  /** Regular files that writer threads created (extract only; see `writers`). */
  threadedFiles: number;
  /** Mode, owner and mtime of the archive's root entry "./" (the volume root), if it has one. */
  rootMeta?: RootMeta;
}

export { ArchiveError, HostileArchiveError, type ArchiveErrorKind };

/** Full check without writing anything: sha256 of the file (vs expected), gunzip, tar parse to the end, same hostile-entry checks. */
export async function verifyArchive(archivePath: string, o: ExtractOptions): Promise<ExtractResult> {
  return run(archivePath, null, o);
}

/**
 * Extract into `stagingDir` (created with mode 0700, must not exist), hashing the compressed bytes
 * on the way. Rejects on any error or checksum mismatch; the caller removes the staging directory.
 * The root entry "./" creates nothing: its metadata is returned as `rootMeta`.
 */
export async function extractArchive(archivePath: string, stagingDir: string, o: ExtractOptions): Promise<ExtractResult> {
  return run(archivePath, stagingDir, o);
}

const PROGRESS_INTERVAL_MS = 500;
/** The ratio is not meaningful for the first bytes (gzip header, a highly compressible start). */
const RATIO_MIN_BYTES = 1024 * 1024;
const IS_ROOT = process.geteuid?.() === 0;
/** Two writer threads and the main thread's parsing keep two cores busy; one core gains nothing. */
const DEFAULT_WRITERS: WriterSettings = { threads: os.availableParallelism() >= 2 ? 2 : 0 };
/**
 * Measured on this project's 2-core test machine (20,000 documents): open() of a new file takes
 * 13-16 us on average on a quiet ext4 (there the threads are ~10 % slower than the main thread
 * alone) and several hundred us when ext4 without a journal skips recently deleted inodes (there
 * they are 25-50 % faster). One window can reach 60-130 us on a quiet file system (a journal
 * commit), hence two windows in a row.
 */
const SLOW_OPEN_MICROS = 50;
export const FILES_PER_CHECK = 256;
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

async function run(archivePath: string, root: string | null, o: ExtractOptions): Promise<ExtractResult> {
  const started = Date.now();
  const { logger, signal } = o;
  const name = path.basename(archivePath);
  signal?.throwIfAborted();

  let expected: string | undefined;
  if (o.expectedSha256 !== undefined && o.expectedSha256 !== null) {
    expected = o.expectedSha256.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(expected)) throw new Error(`expected checksum ${JSON.stringify(o.expectedSha256)} is not a sha256 hex digest`);
  }

  let size: number;
  try {
    const st = await stat(archivePath);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (err) {
    throw new Error(`cannot read archive ${archivePath}: ${(err as Error).message}`, { cause: err });
  }

  if (root !== null) {
    try {
      await mkdir(root, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new Error(`staging directory ${root} already exists`, { cause: err });
      throw new Error(`cannot create staging directory ${root}: ${(err as Error).message}`, { cause: err });
    }
    await chmod(root, 0o700); // mkdir's mode is subject to the umask
  }

  const rootBin = root === null ? null : Buffer.from(root).toString('latin1');
  const tar = new TarConsumer(rootBin, name, readUmask(), root === null ? { threads: 0 } : (o.writers ?? DEFAULT_WRITERS), logger, o.onEntry);
  const progress = { bytesDone: 0 };
  const reportTo = progressReporter(o.onProgress, PROGRESS_INTERVAL_MS, logger.child({ archive: name }));
  const report = (final = false) => reportTo({ bytesDone: progress.bytesDone, bytesTotal: size, entries: tar.digest.entries }, final);
  let sha256: string;
  try {
    sha256 = await consume(archivePath, tar, { ...o, size, report, progress });
    if (expected !== undefined && sha256 !== expected) {
      throw new ArchiveError('checksum', `checksum mismatch: expected ${expected}, got ${sha256} (${name})`);
    }
    tar.finish();
  } finally {
    // Whatever happened: no writer thread writes into the staging directory after we return.
    await tar.release();
  }
  report(true);

  const result: ExtractResult = {
    sha256,
    entries: tar.digest.entries,
    files: tar.files,
    bytes: tar.digest.contentBytes,
    entryDigest: tar.digest.digest(),
    threadedFiles: tar.threadedFiles,
  };
  if (tar.rootMeta) result.rootMeta = tar.rootMeta;
  logger.info(
    { archive: name, staging: root ?? undefined, entries: result.entries, files: result.files, threadedFiles: result.threadedFiles, bytes: result.bytes, ms: Date.now() - started },
    root ? 'extract: archive extracted' : 'extract: archive verified',
  );
  return result;
}

/**
 * Read the whole archive into the consumer, hashing the compressed bytes; returns the hex sha256.
 * Errors are turned into what a person can act on (truncated, corrupt, unreadable).
 */
async function consume(
  archivePath: string,
  tar: TarConsumer,
  o: ExtractOptions & { size: number; report: () => void; progress: { bytesDone: number } },
): Promise<string> {
  const name = path.basename(archivePath);
  const maxRatio = o.maxDecompressionRatio ?? 0;
  const hash = createHash('sha256');
  const checkRatio = (): Error | undefined => {
    const compressed = o.progress.bytesDone;
    if (maxRatio > 0 && tar.tarBytes > RATIO_MIN_BYTES && tar.tarBytes / Math.max(1, compressed) > maxRatio) {
      return new ArchiveError(
        'unsupported',
        `archive ${name} refused: it decompresses by more than ${maxRatio}x (${tar.tarBytes} bytes from ${compressed})`,
      );
    }
    return undefined;
  };
  try {
    await readGzipFile(archivePath, {
      signal: o.signal,
      onCompressed: (chunk) => {
        hash.update(chunk);
        o.progress.bytesDone += chunk.length;
        o.report();
      },
      onData: (chunk) => {
        const err = tar.feed(chunk, checkRatio);
        if (err) throw err;
      },
    });
    await tar.end();
  } catch (err) {
    tar.closeOpenFile();
    if (o.signal?.aborted) throw new Error(`${tar.extracting ? 'extracting' : 'verifying'} archive ${name} aborted`, { cause: err });
    if (tar.failure) throw tar.failure;
    if (err instanceof GzipDataError) {
      if (err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message)) {
        throw new ArchiveError(
          'truncated',
          o.size === 0
            ? `archive is truncated: ${name} is empty`
            : `archive is truncated: the gzip data of ${name} ends unexpectedly after ${o.progress.bytesDone} bytes (the file is incomplete)`,
          { cause: err },
        );
      }
      throw new ArchiveError('corrupt', `archive is corrupt: gzip data error in ${name}: ${explainZlib(err.message)}`, { cause: err });
    }
    if ((err as NodeJS.ErrnoException).syscall !== undefined) {
      throw new Error(`cannot read archive ${archivePath}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  return hash.digest('hex');
}

/** A regular file being extracted: what its `end` applies. */
interface OpenFile extends FileMeta {
  /** Binary strings: as the archive names it, and relative to the staging directory. */
  raw: string;
  rel: string;
  atime: number;
  mtime: number;
  /** Created with this mode (its final one, or 0600 until the end). */
  createMode: number;
  /** Its content goes to a writer thread's batch (else to `fd`, or nowhere when verifying). */
  pooled?: Reservation;
  written: number;
  /** Large or sparse: written at offsets with zero blocks left as holes, its size set at the end. */
  holes: boolean;
  size: number;
}

interface DirMeta {
  mode: number;
  /** mkdir created it with `mode` already (no chmod needed at the end). */
  modeSet: boolean;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}

/**
 * Receives the tar stream (already gunzipped), validates every entry and, with a root, creates it.
 * All work happens synchronously inside the reader's callbacks; the first problem is kept in
 * `failure`, and nothing more is written after it. Paths are binary strings (one char per byte).
 */
class TarConsumer {
  files = 0;
  tarBytes = 0;
  threadedFiles = 0;
  rootMeta: RootMeta | undefined;
  failure: Error | undefined;
  readonly digest = new EntryDigest();

  private readonly reader: TarReader;
  /** Symlinks created so far (incl. hard links to symlinks): path → target. No entry may go below one. */
  private readonly symlinks = new Map<string, string>();
  /** Verify mode only (nothing on disk to look at): non-directory paths seen, for hard link targets (8 bytes each). */
  private readonly nonDirs = new PathHashSet();
  /** Extract mode: directory entries, whose metadata is applied at the end, deepest first. */
  private readonly dirs = new Map<string, DirMeta>();
  /** Directories made for entries whose parents the archive does not list (extract mode). */
  private readonly madeDirs = new Set<string>();
  /** The regular file being written (extract mode), or a file only counted (verify mode). */
  private file: OpenFile | undefined;
  private fd: number | undefined;
  /** Paths below the staging directory, also beyond PATH_MAX. */
  private readonly deep: DeepPaths | undefined;
  /** Started when creating files is slow (see WriterSettings). */
  private writers: ExtractWriters | undefined;
  /** Small files opened on this thread since the last check, and the milliseconds their open() took. */
  private timedOpens = 0;
  private openMs = 0;
  /** Consecutive windows that were slow. */
  private slowWindows = 0;

  constructor(
    /** The staging directory as a binary string, or null to verify only. */
    private readonly root: string | null,
    private readonly archiveName: string,
    /** Known umask: files whose mode it leaves alone are created with that mode (no fchmod). */
    private readonly umask: number | undefined,
    private readonly writerSettings: WriterSettings,
    private readonly logger: Logger,
    private readonly entryHook?: (e: EntryFields) => void,
  ) {
    this.deep = root === null ? undefined : new DeepPaths(root);
    this.reader = new TarReader(archiveName, {
      entry: (e) => this.onEntry(e),
      data: (piece, offset) => this.onData(piece, offset),
      end: () => this.onEnd(),
    });
  }

  /** One decoded chunk of the tar stream; returns the first problem (then nothing more is written). */
  feed(chunk: Buffer, checkRatio: () => Error | undefined): Error | undefined {
    if (this.failure) return this.failure;
    this.tarBytes += chunk.length;
    const tooMuch = checkRatio();
    if (tooMuch) {
      this.fail(tooMuch);
      return this.failure;
    }
    // After the end-of-archive marker, GNU tar ignores the rest (record padding): the reader does too
    // (the bytes are still hashed).
    try {
      this.reader.write(chunk);
    } catch (err) {
      this.closeOpenFile();
      this.fail(err);
    }
    return this.failure;
  }

  /** The end of the tar stream: a truncated last entry or a partial block is an error. */
  async end(): Promise<void> {
    if (!this.failure) {
      try {
        this.reader.end();
      } catch (err) {
        this.fail(err);
      }
    }
    if (this.failure) throw this.failure;
  }

  get extracting(): boolean {
    return this.root !== null;
  }

  /** Checks that need the whole stream; then directory metadata (after their contents were written). */
  finish(): void {
    if (this.failure) throw this.failure;
    this.writers?.drain();
    // Each symlink was checked when it was created, but only on its own; a chain of symlinks
    // (`d -> .`, `e -> d/..`) can still lead out, and a later symlink can change where an earlier
    // one points. Now that all are known, resolve each one the way the kernel would.
    for (const [rel, target] of this.symlinks) {
      if (resolvesOutside(this.symlinks, rel, target)) {
        throw new HostileArchiveError(rel, `is a symlink to ${quoteName(target)}, which through other symlinks of the archive points outside it`);
      }
    }
    if (this.root !== null) this.applyDirMeta();
  }

  /** End the writer threads (after a failure: once they stopped writing), close directory descriptors. */
  async release(): Promise<void> {
    const w = this.writers;
    this.writers = undefined;
    try {
      await w?.close();
    } finally {
      this.deep?.close();
    }
  }

  closeOpenFile(): void {
    this.file = undefined;
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing useful to do: we are already failing.
    }
  }

  private fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  /** A kernel-usable path (Buffer) for a path below the staging directory. */
  private at(rel: string): Buffer {
    return bin(this.deep!.reach(rel));
  }

  private onEntry(entry: TarEntry): void {
    const fields: EntryFields = {
      type: entry.type, name: entry.path, link: entry.linkpath, size: entry.size,
      mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec,
    };
    this.digest.add(fields);
    this.entryHook?.(fields);
    try {
      this.handle(entry);
    } catch (err) {
      this.closeOpenFile();
      if (err instanceof HostileArchiveError || err instanceof ArchiveError || err instanceof WriterThreadError) throw err;
      throw new Error(`cannot extract ${quoteName(entry.path)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private onData(piece: Buffer, offset: number): void {
    const f = this.file;
    if (!f) return;
    if (f.pooled) {
      piece.copy(f.pooled.buf, f.pooled.off + f.written);
      f.written += piece.length;
      return;
    }
    if (this.fd === undefined) return;
    try {
      if (f.holes) writeSkippingZeros(this.fd, piece, offset);
      else writeAll(this.fd, piece);
    } catch (err) {
      this.closeOpenFile();
      throw new Error(`cannot write ${quoteName(f.raw)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private onEnd(): void {
    const f = this.file;
    this.file = undefined;
    if (f?.pooled) {
      this.writers!.commit(f.pooled);
      this.threadedFiles++;
      return;
    }
    const fd = this.fd;
    if (!f || fd === undefined) return;
    try {
      // Holes at the end of a file are its size, not data: set it.
      if (f.holes) fs.ftruncateSync(fd, f.size);
      applyFileMeta(fd, f);
      this.fd = undefined;
      fs.closeSync(fd);
    } catch (err) {
      this.closeOpenFile();
      throw new Error(`cannot set owner, mode or time of ${quoteName(f.raw)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private handle(entry: TarEntry): void {
    const raw = entry.path;
    const rel = safeRelative(raw, raw, 'path');
    if (rel === '') {
      if (entry.type !== 'dir') throw new HostileArchiveError(raw, `names the archive root but is a ${entry.type}, not a directory`);
      this.rootMeta = {
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        mtime: new Date(entry.mtimeSec * 1000 + Math.floor(entry.mtimeNsec / 1e6)),
      };
      return;
    }
    this.refuseBelowSymlink(raw, rel, 'goes through the symlink');
    switch (entry.type) {
      case 'dir':
        this.directory(rel, entry);
        return;
      case 'file':
        this.regularFile(rel, entry);
        return;
      case 'symlink':
        this.symlink(rel, entry);
        return;
      case 'hardlink':
        this.hardlink(rel, entry);
        return;
      case 'char':
        throw new HostileArchiveError(raw, 'is a character device');
      case 'block':
        throw new HostileArchiveError(raw, 'is a block device');
      case 'fifo':
        throw new HostileArchiveError(raw, 'is a FIFO (named pipe)');
    }
  }

  private refuseBelowSymlink(raw: string, rel: string, what: string): void {
    if (this.symlinks.size === 0) return;
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
      const prefix = rel.slice(0, i);
      if (this.symlinks.has(prefix)) throw new HostileArchiveError(raw, `${what} ${quoteName(prefix)} extracted before`);
    }
  }

  private directory(rel: string, entry: TarEntry): void {
    if (this.root === null) {
      this.symlinks.delete(rel);
      return;
    }
    if (this.writers?.has(rel)) this.writers.drain(); // a file of that name is being written
    const abs = this.at(rel);
    const mode = entry.mode;
    // Created with its final mode when that lets us fill it (rwx for the owner), the umask cannot
    // change it and it has no special bits (mkdir does not reliably set them): then the end needs
    // one utimes instead of open/fchmod/futimes/close, which is 4 of GNU tar's 5 syscalls per
    // directory. Otherwise 0700 while we fill it, the real mode at the end. Nobody else sees it
    // meanwhile: the staging directory is 0700.
    const final = this.umask !== undefined && (mode & 0o7700) === 0o700 && (mode & this.umask) === 0;
    let created = false;
    this.create(rel, () => {
      try {
        fs.mkdirSync(abs, final ? mode : 0o700);
        created = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(abs).isDirectory()) throw err;
      }
    });
    const mtime = entry.mtimeSec + entry.mtimeNsec / 1e9;
    this.dirs.set(rel, { mode, modeSet: final && created, uid: entry.uid, gid: entry.gid, atime: mtime, mtime });
  }

  private regularFile(rel: string, entry: TarEntry): void {
    this.files++;
    const mode = entry.mode;
    const { uid, gid } = entry;
    const mtime = entry.mtimeSec + entry.mtimeNsec / 1e9;
    // Fewer syscalls per file: create it with its final mode when the umask cannot change that mode
    // (no setuid/setgid/sticky bit, which open() does not reliably set and fchown would clear), and
    // chown only when the owner differs from ours (during extraction no directory is setgid, so a
    // new file belongs to our euid:egid). Nobody else can see the file before it is complete: the
    // staging directory is 0700.
    const finalModeAtCreate = this.umask !== undefined && (mode & 0o7000) === 0 && (mode & this.umask) === 0;
    const f: OpenFile = {
      raw: entry.path,
      rel,
      mode,
      uid,
      gid,
      atime: mtime,
      mtime,
      createMode: finalModeAtCreate ? mode : 0o600,
      chmod: !finalModeAtCreate,
      chown: needsChown(uid, gid),
      written: 0,
      holes: entry.sparse !== undefined || entry.size > MAX_POOLED_FILE,
      size: entry.size,
    };
    this.file = f;
    if (this.root === null) {
      this.nonDirs.add(rel);
      this.symlinks.delete(rel);
      return;
    }
    if (!f.holes && this.toWriterThread(f, entry.size)) {
      f.pooled = this.writers!.reserve(parentOf(rel), f, entry.size);
      return;
    }
    if (this.writers?.has(rel)) this.writers.drain(); // an earlier file of that name is being written
    const abs = this.at(rel);
    const timed = !this.writers && this.writerSettings.threads > 0 && entry.size <= MAX_POOLED_FILE;
    const t = timed ? performance.now() : 0;
    this.fd = this.create(rel, () => fs.openSync(abs, CREATE_FLAGS, f.createMode));
    if (timed) this.timeOpen(performance.now() - t);
  }

  /** Start the writer threads when this thread's open() of new files is slow (see WriterSettings). */
  private timeOpen(ms: number): void {
    this.timedOpens++;
    this.openMs += ms;
    if (this.timedOpens < FILES_PER_CHECK) return;
    const micros = (this.openMs * 1000) / this.timedOpens;
    this.timedOpens = 0;
    this.openMs = 0;
    this.slowWindows = micros > (this.writerSettings.slowOpenMicros ?? SLOW_OPEN_MICROS) ? this.slowWindows + 1 : 0;
    if (this.slowWindows >= 2) {
      this.logger.info({ archive: this.archiveName, openMicros: Math.round(micros) }, 'extract: creating files is slow, writer threads take over the small files');
      this.startWriters();
    }
  }

  private startWriters(): void {
    this.writers = new ExtractWriters(this.writerSettings.threads, this.root!, this.writerSettings.stallMs ?? DEFAULT_STALL_MS, (e) => this.writerError(e));
    if (this.writerSettings.waitUntilReady) this.writers.waitUntilReady();
  }

  /**
   * Whether a file goes to a writer thread: a small one, once the threads run, into a directory the
   * main thread made, and not over an entry the main thread must replace itself (a symlink or
   * directory of the same name).
   */
  private toWriterThread(f: OpenFile, size: number): boolean {
    const rel = f.rel;
    if (this.writerSettings.threads <= 0 || size > MAX_POOLED_FILE || this.root === null) return false;
    if (!this.writers && this.writerSettings.slowOpenMicros === 0) this.startWriters();
    if (!this.writers || !this.writers.fits(rel, f.raw, size)) return false;
    if (!this.writers.ready || this.symlinks.has(rel) || this.dirs.has(rel)) return false;
    const dir = parentOf(rel);
    return dir === '' || this.dirs.has(dir) || this.madeDirs.has(dir);
  }

  /** A writer thread's failure, worded as if the main thread had written the file. */
  private writerError(f: WriterFailure): Error {
    if (f.replacesDir) return new HostileArchiveError(f.rel, 'would replace a directory of the same name extracted before');
    const what = { create: 'cannot extract', write: 'cannot write', meta: 'cannot set owner, mode or time of' }[f.stage];
    return new WriterThreadError(`${what} ${quoteName(f.raw)}: ${f.message}`);
  }

  private symlink(rel: string, entry: TarEntry): void {
    const raw = entry.path;
    const target = entry.linkpath ?? '';
    checkSymlinkTarget(raw, rel, target);
    if (this.root !== null) {
      // Files in flight were checked against the symlinks known when they were sent: none may be
      // created after a symlink that could lie on its path.
      this.writers?.drain();
      const abs = this.at(rel);
      this.create(rel, () => fs.symlinkSync(bin(target), abs));
      if (IS_ROOT) fs.lchownSync(abs, entry.uid, entry.gid);
      const mtime = asTime(entry.mtimeSec + entry.mtimeNsec / 1e9);
      fs.lutimesSync(abs, mtime, mtime);
    } else {
      this.nonDirs.add(rel);
    }
    this.symlinks.set(rel, target);
  }

  private hardlink(rel: string, entry: TarEntry): void {
    const raw = entry.path;
    const rawTarget = entry.linkpath ?? '';
    // Hard link targets are archive paths (relative to the archive root, not to the link).
    const target = safeRelative(raw, rawTarget, 'hard link target');
    if (target === '') throw new HostileArchiveError(raw, 'is a hard link to the archive root');
    if (target === rel) throw new HostileArchiveError(raw, 'is a hard link to itself');
    this.refuseBelowSymlink(raw, target, 'is a hard link whose target goes through the symlink');
    const notBefore = () => new HostileArchiveError(raw, `is a hard link to ${quoteName(rawTarget)}, which was not extracted before it`);
    this.writers?.drain(); // the target, or an entry of this name, may still be being written
    let symlinkTarget: string | undefined;
    if (this.root === null) {
      if (!this.nonDirs.has(target)) throw notBefore();
      symlinkTarget = this.symlinks.get(target);
    } else {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(this.at(target));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') throw notBefore();
        throw err;
      }
      if (st.isDirectory()) throw new HostileArchiveError(raw, `is a hard link to the directory ${quoteName(rawTarget)}`);
      if (st.isSymbolicLink()) symlinkTarget = this.symlinks.get(target);
    }
    // A hard link to a symlink is a second symlink with the same text, now read relative to the
    // link's own directory; check it like one.
    if (symlinkTarget !== undefined) checkSymlinkTarget(raw, rel, symlinkTarget);
    if (this.root !== null) {
      const targetAbs = this.at(target);
      const abs = this.at(rel);
      // link(2) does not follow a symlink given as the target, it links the symlink itself.
      this.create(rel, () => fs.linkSync(targetAbs, abs));
    } else {
      this.nonDirs.add(rel);
    }
    this.files += symlinkTarget === undefined ? 1 : 0;
    if (symlinkTarget !== undefined) this.symlinks.set(rel, symlinkTarget);
    else this.symlinks.delete(rel);
  }

  /**
   * Run `op` (which creates `rel`); create missing parent directories (archives need not list
   * them), and replace an entry of the same name from earlier in the archive the way tar does:
   * a non-directory is unlinked (never followed); a directory is kept for a directory entry and
   * refused for anything else.
   */
  private create<T>(rel: string, op: () => T): T {
    let madeParents = false;
    let replaced = false;
    for (;;) {
      try {
        return op();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !madeParents) {
          madeParents = true;
          // No component is a symlink (refuseBelowSymlink), so this stays inside the staging dir.
          this.deep!.mkdirs(parentOf(rel), 0o755);
          for (let d = parentOf(rel); d !== '' && !this.madeDirs.has(d); d = parentOf(d)) this.madeDirs.add(d);
          continue;
        }
        if (code === 'EEXIST' && !replaced) {
          replaced = true;
          const abs = this.at(rel);
          const st = fs.lstatSync(abs);
          if (st.isDirectory()) {
            throw new HostileArchiveError(rel, 'would replace a directory of the same name extracted before');
          }
          fs.unlinkSync(abs);
          this.symlinks.delete(rel);
          continue;
        }
        throw err;
      }
    }
  }

  /** Owner, mode and times of directories, deepest first, so creating children no longer touches them. */
  private applyDirMeta(): void {
    const list = [...this.dirs].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, m] of list) {
      const chown = needsChown(m.uid, m.gid);
      let fd: number | undefined;
      try {
        const abs = this.at(rel);
        if (m.modeSet && !chown) {
          // It is the directory we made: a directory is never replaced (create() refuses that)
          // and nothing lies below a symlink, so the path leads there; lutimes follows nothing.
          fs.lutimesSync(abs, asTime(m.atime), asTime(m.mtime));
          continue;
        }
        fd = fs.openSync(abs, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
        // We created it, so it is ours already unless the archive says otherwise.
        if (chown) fs.fchownSync(fd, m.uid, m.gid);
        fs.fchmodSync(fd, m.mode);
        fs.futimesSync(fd, asTime(m.atime), asTime(m.mtime));
      } catch (err) {
        throw new Error(`cannot set owner, mode or time of directory ${quoteName(rel)}: ${(err as Error).message}`, { cause: err });
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
  }
}

function explainZlib(message: string): string {
  switch (message) {
    case 'incorrect data check':
      return 'the data does not match its gzip checksum (incorrect data check)';
    case 'incorrect length check':
      return 'the data length does not match the gzip trailer (incorrect length check)';
    case 'incorrect header check':
      return 'this is not gzip data (incorrect header check)';
    default:
      return `invalid compressed data (${message})`;
  }
}

/** Only root can give an entry another owner, and what we create is ours already. */
function needsChown(uid: number, gid: number): boolean {
  return IS_ROOT && (uid !== EUID || gid !== EGID);
}

/** A writer thread's failure to create, fill or finish a file (worded by writerError). */
class WriterThreadError extends Error {}

function depth(rel: string): number {
  let n = 0;
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) n++;
  return n;
}

/**
 * The process umask from /proc/self/status (reading it with process.umask() would have to set it),
 * or undefined where that is not available: then every file gets an explicit fchmod.
 */
function readUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m ? parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
}

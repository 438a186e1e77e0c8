/** What a caller passes to verifyArchive/extractArchive and gets back (extract-archive.ts). */
import type { Logger } from 'pino';
import type { EntryFields } from '../entry-digest.js';

export interface RootMeta {
  mode: number;
  uid: number;
  gid: number;
  /**
   * The mtime as the archive has it: whole seconds (any safe integer: before 1970, and beyond what
   * a Date holds, which GNU tar restores too) and the nanoseconds of that second.
   */
  mtimeSec: number;
  mtimeNsec: number;
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
  /**
   * Extracted bytes between two early flushes of the staging directory's file system
   * (src/engine/fs/writeback.ts); 0: none. Default WRITEBACK_EVERY_BYTES. Not used by verifyArchive.
   */
  writebackEveryBytes?: number;
  /**
   * A second consumer of the decoded tar stream (GNU tar's listing through a pipe): gets every
   * byte our reader gets, in order; a returned promise makes the read wait for it.
   */
  tee?: { write(chunk: Buffer): Promise<void> | undefined };
  /** Every entry as read, in archive order (for comparing readers entry by entry). */
  onEntry?: (e: EntryFields) => void;
  /**
   * Extract only the entries whose path (relative to the archive root, a binary string) this
   * accepts (single-file restore). Every entry is still read, checked by the same rules (a hostile
   * entry anywhere refuses the archive) and counted in the digest; `files` counts extracted files.
   */
  select?: (rel: string) => boolean;
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

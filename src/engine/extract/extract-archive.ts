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
import { chmod, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ArchiveError, HostileArchiveError, type ArchiveErrorKind } from '../archive-errors.js';
import { GzipDataError } from '../gzip/gzip-members.js';
import { WRITEBACK_EVERY_BYTES, WritebackStarter } from '../fs/writeback.js';
import { readGzipFile } from '../gzip/parallel-gunzip.js';
import { progressReporter } from '../progress.js';
import type { ExtractOptions, ExtractResult, WriterSettings } from './extract-options.js';
import { creationMask } from './owner.js';
import { TarConsumer } from './tar-consumer.js';

export type { ExtractOptions, ExtractProgress, ExtractResult, RootMeta, WriterSettings } from './extract-options.js';
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
/** Two writer threads and the main thread's parsing keep two cores busy; one core gains nothing. */
const DEFAULT_WRITERS: WriterSettings = { threads: os.availableParallelism() >= 2 ? 2 : 0 };

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
  const tar = new TarConsumer(rootBin, name, root === null ? undefined : creationMask(root), root === null ? { threads: 0 } : (o.writers ?? DEFAULT_WRITERS), logger, o.onEntry, o.select);
  const progress = { bytesDone: 0 };
  const reportTo = progressReporter(o.onProgress, PROGRESS_INTERVAL_MS, logger.child({ archive: name }));
  const report = (final = false) => reportTo({ bytesDone: progress.bytesDone, bytesTotal: size, entries: tar.digest.entries }, final);
  // The kernel writes the staged files while we extract more (why: writeback.ts). Not for a
  // single-file restore (`select`): it reads the whole archive but writes a few files.
  const writeback = root === null || o.select ? undefined : new WritebackStarter(root, o.writebackEveryBytes ?? WRITEBACK_EVERY_BYTES, logger);
  let sha256: string;
  try {
    sha256 = await consume(archivePath, tar, { ...o, size, report, progress, writeback });
    if (expected !== undefined && sha256 !== expected) {
      throw new ArchiveError('checksum', `checksum mismatch: expected ${expected}, got ${sha256} (${name})`);
    }
    tar.finish();
  } finally {
    // Whatever happened: no writer thread writes into the staging directory after we return, and
    // no flush of ours still runs.
    await Promise.all([tar.release(), writeback?.settle()]);
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
  o: ExtractOptions & { size: number; report: () => void; progress: { bytesDone: number }; writeback?: WritebackStarter },
): Promise<string> {
  const name = path.basename(archivePath);
  const maxRatio = o.maxDecompressionRatio ?? 0;
  const hash = createHash('sha256');
  /** The tee's wait for room, after the last piece it was given. */
  let pending: Promise<void> | undefined;
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
        o.writeback?.progress(tar.tarBytes);
        pending = o.tee?.write(chunk);
      },
      backpressure: () => {
        const p = pending;
        pending = undefined;
        return p;
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

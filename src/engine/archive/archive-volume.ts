/**
 * Archive one volume directory into `<backupDir>/<fileName>` (tar.gz), streaming, crash-safe.
 *
 * The archive is equivalent to `tar -C <volumeDir> -czf <file> .` (entries "./", "./a/", "./a/b",
 * owners, modes, mtimes, symlinks, hard links, empty directories), so an admin can restore it by hand
 * with GNU tar.
 *
 * Why not node-tar's `create()`: it decodes names as text (a Latin-1 name is lost) and turns every
 * change of a live tree into a fatal error that stalls the pack stream; a running MariaDB changes its
 * files all the time. The stream is written by volume-tar.ts, GNU tar's format byte for byte.
 *
 * Publication (../fs/publish.ts): archive data → fsync → sidecars (.sha256, .manifest.json, each
 * atomic) → rename to the final name → fsync the directory. The final name is the commit point.
 *
 * Speed (see BENCHMARKS.md): the tar stream is built in 2 MiB chunks that are gzip-compressed
 * concurrently in the libuv threadpool and written in order as gzip members (src/engine/gzip/parallel-gzip.ts);
 * chunks of already-compressed data (image pixel data, zip blobs) are stored instead of compressed.
 * The result is still one standard .tar.gz. `gzipParallel: false` writes the classic single gzip
 * member with one zlib stream.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs, { constants as fsc, type Stats } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { quoteName, showName } from '../../core/show-name.js';
import { EntryDigest } from '../entry-digest.js';
import { exists, tempFilesOf } from '../fs/atomic.js';
import { AlreadyExistsError, publish } from '../fs/publish.js';
import { INDEX_SUFFIX } from '../entry-index/index-format.js';
import { EntryIndexWriter } from '../entry-index/index-writer.js';
import { GzipChunkWriter, writevAll } from '../gzip/parallel-gzip.js';
import { progressReporter } from '../progress.js';
import { treeSize } from './tree-size.js';
import { writeVolumeTar, type ArchiveProgress } from './volume-tar.js';

export type { ArchiveProgress };

const fsync = promisify(fs.fsync);

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
  /**
   * Exact top-level names to leave out: only a restore's own work directory (`.oob-restore-<id>`,
   * marked as ours) while its safety backup runs. Everything else is archived.
   */
  skipTopNames?: string[];
  /**
   * Top-level names left out with a warning that says why: the work directory of a finished
   * restore that could not remove the previous data (see LeaveOut).
   */
  leaveOut?: LeaveOut[];
  /** Throttled to one call per progressIntervalMs, plus a final one. Exceptions are logged, not fatal. */
  onProgress?: (p: ArchiveProgress) => void;
  /** Default 500 ms. 0 reports after every entry and every chunk read (tests, fine-grained UIs). */
  progressIntervalMs?: number;
  logger: Logger;
  /** Abort → stop, remove the .partial, reject. */
  signal?: AbortSignal;
}

/** A top-level name an archive leaves out, and the warning it records for it. */
export interface LeaveOut {
  name: string;
  why: string;
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

/** An archive's warning as the manifest and the listing show it; `entry` a binary string. */
export function warningText(entry: string, code: string, message: string): string {
  return `${quoteName(entry)}: ${message} (${code})`;
}

export function partialPath(backupDir: string, fileName: string): string {
  return `${path.join(backupDir, fileName)}.partial`;
}

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
    warnings.push(warningText(entry, code, message));
    logger.warn({ volume, path: showName(entry), code }, `archive: ${quoteName(entry)}: ${message}`);
  };
  const digest = new EntryDigest();

  const progress: ArchiveProgress = { bytesDone: 0, bytesTotal: 0, entries: 0 };
  const reportTo = progressReporter(o.onProgress, o.progressIntervalMs, logger.child({ volume }));
  const report = (final = false) => reportTo(progress, final);
  let index: EntryIndexWriter | undefined;

  try {
    if (await exists(finalPath)) throw fail(`archive ${finalPath} already exists`);
    // Stale leftovers of a crashed attempt (never under the final name, so safe to drop): its
    // data and its sidecars' temp files. Only one writer works on this archive (the volume lock).
    const stale = [partial, ...(await tempFilesOf(`${finalPath}.sha256`)), ...(await tempFilesOf(`${finalPath}.manifest.json`)), ...(await tempFilesOf(`${finalPath}${INDEX_SUFFIX}`))];
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    signal?.throwIfAborted();

    const leaveOut = o.leaveOut ?? [];
    const skipTop = new Set([...(o.skipTopNames ?? []), ...leaveOut.map((l) => l.name)].map((n) => Buffer.from(n).toString('latin1')));
    for (const l of leaveOut) warn(Buffer.from(l.name).toString('latin1'), 'ELEFTOUT', l.why);
    progress.bytesTotal = await treeSize(volumeDir, signal, skipTop);
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
    // The entry index (single-file restore lists directories from it), a sidecar published with the others.
    index = new EntryIndexWriter(`${finalPath}${INDEX_SUFFIX}.${randomBytes(6).toString('hex')}.partial`);
    let written = 0;
    try {
      await writeVolumeTar(z, { volumeDir, skipTop, signal, warn, digest, onEntry: (e) => index!.add(e), progress, report: () => report() });
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
    index.finish(size, sha256);
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
    await publish({
      partial,
      finalPath,
      sidecars: [
        { suffix: '.sha256', content: `${sha256}  ${fileName}\n` },
        { suffix: '.manifest.json', content: `${JSON.stringify(manifest, null, 2)}\n` },
        { suffix: INDEX_SUFFIX, file: index.tempPath },
      ],
      beforeRename: () => signal?.throwIfAborted(),
    });
    return result;
  } catch (err) {
    await rm(partial, { force: true }).catch(() => undefined);
    try {
      index?.abort();
    } catch {
      // already published or gone
    }
    if (err instanceof AlreadyExistsError) throw fail(`archive ${finalPath} already exists`, err);
    if (err instanceof Error && err.message.startsWith(`volume "${volume}": `)) throw err;
    if (signal?.aborted) throw fail(`archiving ${volumeDir} aborted`, err);
    throw fail(`archiving ${volumeDir} to ${finalPath} failed: ${(err as Error).message}`, err);
  }
}

const MAX_MANIFEST_WARNINGS = 100;

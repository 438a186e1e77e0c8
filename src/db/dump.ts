/**
 * A logical dump of one database: `mariadb-dump` (one consistent snapshot, --single-transaction)
 * gzipped into `<dir>/<fileName>`, streamed with backpressure, never held in memory.
 *
 * Publication order (same as the volume archives): gzip data → `<file>.partial` → fsync → sidecars
 * `<file>.sha256` (sha256sum format) and `<file>.manifest.json` (each atomic) → rename to `<file>` →
 * fsync the directory. A failed dump (client exit ≠ 0, or output without mariadb-dump's closing
 * `-- Dump completed` line, i.e. a truncated dump) leaves neither the .partial nor the sidecars nor
 * a file under the final name. An existing final file is never overwritten. Dumps name no database
 * (no --databases), so a dump goes into whichever database it is loaded into.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Logger } from 'pino';
import { createNewFileStream, exists, fsyncDir, fsyncFile, writeFileAtomic } from '../engine/fs/atomic.js';
import { progressReporter } from '../engine/progress.js';
import { abortError, assertDbName, commandError, DbCommandError, DUMP_BIN, MAX_ALLOWED_PACKET, runClient, type ClientRun } from './client.js';
import { clientArgs, withDefaultsFile, type DbSettings } from './option-file.js';
import { COMPLETION_MARK, HashingCounter, StatementMeter, TailKeeper } from './stream-checks.js';
import { databaseDefaults } from './server-facts.js';

/** Bytes of the dump's end kept to look for the completion line. */
const TAIL_KEEP = 512;

export interface DumpResult {
  file: string;
  path: string;
  /** Size of the compressed file. */
  size: number;
  sha256: string;
  durationMs: number;
  /** Bytes of the dump's longest statement: a restore needs the server's max_allowed_packet at least this large. */
  longestStatement: number;
  /** The users (`user@host`) its views, triggers, routines and events are created for: a restore by another user needs SET USER. */
  definers: string[];
}

export interface DumpOptions {
  dir: string;
  /** Final file name, e.g. "elexis_2026-11-21-0315.sql.gz" (no directory part). */
  fileName: string;
  /** 0-9, default 6. */
  gzipLevel?: number;
  signal?: AbortSignal;
  logger: Logger;
  /** bytesDone = uncompressed SQL bytes received from mariadb-dump so far. Throttled, plus a final call. */
  onProgress?: (p: { bytesDone: number }) => void;
  /** Default 500 ms; 0 reports every chunk. */
  progressIntervalMs?: number;
}

/**
 * mariadb-dump's arguments (after the option file): one consistent dump of `database` (of its InnoDB
 * tables: MyISAM and Aria tables are read when their turn comes), routines, triggers, events and
 * the history of system-versioned tables (--dump-history, MariaDB 10.11) included.
 */
export function dumpArgs(database: string): string[] {
  return [
    '--single-transaction',
    '--routines',
    '--triggers',
    '--events',
    '--dump-history',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    `--max-allowed-packet=${MAX_ALLOWED_PACKET}`,
    database,
  ];
}

export async function dumpDatabase(db: DbSettings, o: DumpOptions): Promise<DumpResult> {
  const started = Date.now();
  const { dir, fileName, signal } = o;
  const log = o.logger.child({ module: 'mariadb' });
  assertDbName(db.database);
  if (!fileName || fileName !== path.basename(fileName) || fileName === '.' || fileName === '..') {
    throw new Error(`invalid dump file name ${JSON.stringify(fileName)}`);
  }
  const gzipLevel = o.gzipLevel ?? 6;
  if (!Number.isInteger(gzipLevel) || gzipLevel < 0 || gzipLevel > 9) throw new Error(`gzip level must be an integer 0-9, got ${gzipLevel}`);
  signal?.throwIfAborted();

  const finalPath = path.join(dir, fileName);
  const partial = `${finalPath}.partial`;
  const shaPath = `${finalPath}.sha256`;
  const manifestPath = `${finalPath}.manifest.json`;
  const report = progressReporter(o.onProgress, o.progressIntervalMs, log);
  const progress = { bytesDone: 0 };

  let sidecarWritten = false;
  let renamed = false;
  try {
    if (await exists(finalPath)) throw new Error(`dump ${finalPath} already exists`);
    // Leftovers of a crashed attempt (never under the final name, so safe to drop).
    await Promise.all([partial, `${shaPath}.partial`, `${manifestPath}.partial`].map((p) => rm(p, { force: true })));

    const tail = new TailKeeper(TAIL_KEEP, (n) => {
      progress.bytesDone += n;
      report(progress);
    });
    const hasher = new HashingCounter();
    const meter = new StatementMeter();
    await withDefaultsFile(db, async (defaultsFile) => {
      // The file first: the client's output must be piped on before the client can exit. Node
      // discards a child's unread stdout when it exits (a short dump then arrived as 0 bytes).
      const out = await createNewFileStream(partial);
      let run: ClientRun;
      try {
        run = runClient(DUMP_BIN, clientArgs(defaultsFile, dumpArgs(db.database)), ['ignore', 'pipe', 'pipe'], signal);
      } catch (err) {
        out.destroy();
        throw err;
      }
      let streamErr: unknown;
      try {
        await pipeline(run.child.stdout!, tail, meter, createGzip({ level: gzipLevel }), hasher, out);
      } catch (err) {
        streamErr = err;
        run.kill(); // e.g. ENOSPC: the client would block forever on a full stdout pipe
      }
      const exit = await run.done;
      signal?.throwIfAborted();
      if (exit.code !== 0 && !(streamErr && exit.killedByUs)) throw commandError(DUMP_BIN, exit, `dump of database ${db.database} failed`);
      if (streamErr) throw streamErr;
      if (!tail.text().includes(COMPLETION_MARK)) {
        throw new DbCommandError(
          `dump of database ${db.database} is incomplete: ${DUMP_BIN} exited 0 but its output lacks the "${COMPLETION_MARK}" line` +
            ` (${progress.bytesDone} bytes received, ending ${JSON.stringify(tail.lastLine(120))})` +
            (exit.stderr ? `: ${exit.stderr}` : ''),
          exit.code,
          exit.stderr,
          DUMP_BIN,
        );
      }
      if (exit.stderr) log.warn({ database: db.database, stderr: exit.stderr }, `${DUMP_BIN} reported warnings`);
    });
    await fsyncFile(partial);
    report(progress, true);
    const sha256 = hasher.digest();

    // rename() would silently replace a file that appeared meanwhile; we never overwrite.
    if (await exists(finalPath)) throw new Error(`dump ${finalPath} already exists`);
    sidecarWritten = true;
    await writeFileAtomic(shaPath, `${sha256}  ${fileName}\n`);
    // Marks the dump as ours: verification then insists on the .sha256 sidecar.
    // A plain dump names neither: a restore onto a new server recreates the database with these.
    const database = await databaseDefaults(db, signal).catch((err: Error) => void log.warn({ err: err.message }, 'could not read the database\'s character set'));
    const manifest = {
      file: fileName, kind: 'sql', size: hasher.bytes, sha256, longestStatement: meter.longestStatement, ...(database ? { database } : {}),
      durationMs: Date.now() - started, createdAt: new Date().toISOString(), tool: 'oob-backup',
    };
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    signal?.throwIfAborted();
    await rename(partial, finalPath);
    renamed = true;
    await fsyncDir(dir);
    const result: DumpResult = { file: fileName, path: finalPath, size: hasher.bytes, sha256, durationMs: Date.now() - started, longestStatement: meter.longestStatement, definers: meter.definers };
    log.info({ database: db.database, file: finalPath, size: result.size, durationMs: result.durationMs }, 'database dumped');
    return result;
  } catch (err) {
    const cleanup = [partial, `${shaPath}.partial`, `${manifestPath}.partial`];
    // The dump never got its final name, so its sidecars must not claim it exists.
    if (sidecarWritten && !renamed) cleanup.push(shaPath, manifestPath);
    await Promise.all(cleanup.map((p) => rm(p, { force: true }).catch(() => undefined)));
    if (signal?.aborted) throw abortError(signal, `dump of database ${db.database} aborted`, err);
    throw err;
  }
}

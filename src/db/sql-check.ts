/**
 * The check of a SQL file before it is loaded (whole, this database, its sha256 for the .sha256
 * sidecar, its longest statement and definers: core/sql-dump-end.ts), optionally writing what it
 * reads into a private copy in the same pass.
 *
 * Why the copy: the check and the load used to read the file by its name, twice. A file changed in
 * between (replaced, cut, grown: someone or something writing into BACKUP_DIR, an uploaded dump
 * replaced, a half-synced file system) was loaded unchecked into the patient database, after it
 * had been dropped. The restore job now loads the private copy, so the bytes loaded are exactly
 * the bytes checked. Weighed against the alternatives:
 * - hashing while streaming into `mariadb` finds a mismatch only after the database was dropped
 *   and half loaded from the wrong bytes; it would rest everything on restoring the safety dump
 *   automatically, which does not exist with skipSafetyBackup or on a new server, and is a second
 *   load that can fail the same way;
 * - holding one fd and comparing size/mtime/ctime after the load cannot see a writer that keeps
 *   the times (or writes within one timestamp tick), and finds the change after the load, too.
 * The copy costs the file's size once more in BACKUP_DIR for the duration of the load (a gzip stays
 * compressed) and the time to write it, a fraction of the load's (see README, "SQL restore").
 *
 * The source is opened once, without following a symlink (O_NOFOLLOW) and without blocking on a
 * FIFO (O_NONBLOCK), and must be a regular file; its size, mtime, ctime and inode must be the same
 * after the pass as before and the bytes read its size, else the file was changing while it was
 * read and is refused. The copy is created new (O_EXCL, 0600) in a directory the caller made for it.
 */
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DumpEndCheck, type DumpEndVerdict } from '../core/sql-dump-end.js';
import { progressReporter } from '../engine/progress.js';
import type { Logger } from 'pino';
import { Counter, HashingCounter } from './stream-checks.js';

/** What a file that is not a regular file is, for the message. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

/**
 * Opens `file` for reading if it is a regular file: never through a symlink, never waiting for a
 * FIFO's writer. The caller closes the handle.
 */
export async function openRegularFile(file: string): Promise<{ fh: FileHandle; st: Stats }> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ELOOP') throw new Error(`${path.basename(file)} is a symbolic link, not a regular file: a restore loads only the file itself`, { cause: err });
    throw err;
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${path.basename(file)} is not a regular file (${kindOf(st)})`);
    return { fh, st };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** The same file, unchanged: what a writer, a truncation or a rename onto it would change. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

export interface CheckOptions {
  signal?: AbortSignal;
  logger: Logger;
  /** Bytes of the file (as stored) read so far, of its size. Throttled, plus a final call. */
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  /** Default 500 ms; 0 reports every chunk. */
  progressIntervalMs?: number;
  /** A path that must not exist yet: the bytes read are written there (0600). */
  copyTo?: string;
}

export type SqlCheck = DumpEndVerdict & { bytes: number; durationMs: number; sha256: string };

/**
 * One streaming pass over the file (gunzipped when it is gzip): is it whole? See DumpEndCheck. Rejects
 * when the file cannot be read, is not a regular file, changed during the pass, or on `signal`; a
 * file found incomplete resolves `ok: false`. `database`: the one the file will be loaded into; a file
 * that switches to another is refused too (core/sql-statement-scan.ts). `copyTo`: a path that must
 * not exist yet; the bytes read are written there (0600), and the verdict and sha256 are the copy's.
 * On any rejection the copy is removed; on `ok: false` it is left for the caller to remove.
 */
export async function checkSqlFile(file: string, database: string, o: CheckOptions): Promise<SqlCheck> {
  const started = Date.now();
  const log = o.logger.child({ module: 'mariadb' });
  const { fh, st } = await openRegularFile(file);
  let copy: FileHandle | undefined;
  try {
    copy = o.copyTo === undefined ? undefined : await open(o.copyTo, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const report = progressReporter(o.onProgress, o.progressIntervalMs, log);
    const progress = { bytesDone: 0, bytesTotal: st.size };
    const counter = new Counter((n) => {
      progress.bytesDone += n;
      report(progress);
    });
    const check = new DumpEndCheck({ database });
    const hasher = new HashingCounter(); // of the file as stored, for its .sha256 sidecar
    const sink = copy ? copy.createWriteStream() : new Writable({ write: (_chunk, _enc, cb) => cb() });
    await pipeline(fh.createReadStream({ highWaterMark: 256 * 1024, autoClose: false, start: 0 }), counter, hasher, check, sink, { signal: o.signal });
    const after = await fh.stat();
    if (!sameFile(st, after) || hasher.bytes !== st.size) {
      throw new Error(
        `${path.basename(file)} changed while it was being read (${st.size} bytes before, ${after.size} after, ${hasher.bytes} read): ` +
          'something is writing to it (a copy or upload not finished, a sync); restore again when it is complete',
      );
    }
    report(progress, true);
    const verdict = check.verdict();
    const durationMs = Date.now() - started;
    log.info({ file, bytes: st.size, gzip: verdict.gzip, ok: verdict.ok, dump: verdict.ok && verdict.dump, copy: o.copyTo, durationMs }, 'SQL file checked before the load');
    return { ...verdict, bytes: st.size, durationMs, sha256: hasher.digest() };
  } catch (err) {
    // Only a copy this call created (O_EXCL): a path that existed is not ours to remove.
    if (copy) {
      await copy.close().catch(() => undefined);
      copy = undefined;
      await rm(o.copyTo!, { force: true });
    }
    throw err;
  } finally {
    await copy?.close().catch(() => undefined); // the write stream closed it already when it finished
    await fh.close();
  }
}

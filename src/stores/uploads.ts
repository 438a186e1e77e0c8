/**
 * SQL uploads stream straight to BACKUP_DIR/uploads (never into memory). Before a byte is written:
 * the declared size against MAX_UPLOAD_BYTES (413) and against the free space (507, with the
 * numbers). While it streams:
 * - the first 64 KiB must be SQL text or gzip of it (sql-sniff.ts), else 415 and nothing is kept;
 * - it must keep moving: a window of `idleTimeoutMs` that brings less than MIN_PROGRESS_BYTES cuts
 *   it (408). That catches a client that stalls and one that drips a byte at a time, while a slow
 *   but steady upload of any length goes through: there is no total time limit (a 20 GiB dump on a
 *   10 MB/s link takes 35 minutes);
 * - a disk that fills up anyway (ENOSPC) ends it with 507.
 * When it has ended: a file that starts like a mysqldump/mariadb-dump file must end with its
 * `-- Dump completed` line, and a gzip must decompress to its end (core/sql-dump-end.ts, fed as
 * the bytes pass: a gzip is inflated alongside, one pass, no second read), else 422 and nothing is
 * kept; so must a file that switches to another database than the one it is for (a dump made with
 * --databases of another database, or --all-databases). The restore job checks the file again before it touches the database.
 * The file is named by what its first bytes say (gzip magic 1f 8b), not by what the client claims,
 * and anything that fails is removed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes, freeBytes } from '../engine/fs/free-space.js';
import { createNewFileStream, fsyncFile } from '../engine/fs/atomic.js';
import { SNIFF_BYTES, sniffSql } from '../core/sql-sniff.js';
import { DumpEndCheck } from '../core/sql-dump-end.js';

export class UploadError extends Error {
  constructor(
    readonly status: 400 | 408 | 413 | 415 | 422 | 507,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Upload {
  path: string;
  bytes: number;
  gzip: boolean;
}

export interface UploadLimits {
  maxBytes: number;
  /** Length of the progress window (UPLOAD_IDLE_TIMEOUT). */
  idleTimeoutMs: number;
  /** Free space that must stay in BACKUP_DIR on top of the upload (SPACE_MARGIN_MB). */
  spaceMarginBytes: number;
  /** The database the file will be loaded into (DB_NAME): one that works on another is refused. */
  database: string;
}

/** Less than this within one progress window is a stalled or dripping client (~1 KiB/s at 60 s). */
export const MIN_PROGRESS_BYTES = 64 * 1024;

/** Names of finished uploads and of uploads being received: the sweep removes only these. */
export const UPLOAD_FILE = /^[0-9a-f-]{36}(\.sql|\.sql\.gz|\.upload\.partial)$/;

export function uploadsDir(backupDir: string): string {
  return path.join(backupDir, 'uploads');
}

export async function receiveUpload(body: Readable, dir: string, id: string, limits: UploadLimits, declaredLength?: number): Promise<Upload> {
  const { maxBytes } = limits;
  if (declaredLength !== undefined && declaredLength > maxBytes) {
    throw new UploadError(413, 'too_large', `upload of ${declaredLength} bytes exceeds MAX_UPLOAD_BYTES (${maxBytes})`);
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await requireUploadSpace(dir, declaredLength ?? 0, limits.spaceMarginBytes);

  const partial = path.join(dir, `${id}.upload.partial`);
  let bytes = 0;
  let gzip = false;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(new UploadError(413, 'too_large', `upload exceeds MAX_UPLOAD_BYTES (${maxBytes})`));
      cb(null, chunk);
    },
  });
  const sniffer = sniffGate((g) => (gzip = g));
  const endCheck = new DumpEndCheck({ database: limits.database });
  // The request is piped in, not made part of the pipeline: a pipeline destroys its source on an
  // error, and destroying an unfinished request destroys its socket, so the client would get a
  // reset instead of our 4xx. The caller discards the rest of the body (discardRest).
  const clientGone = (err?: Error) => counter.destroy(err ?? new Error('the client closed the connection before the upload was complete'));
  body.once('error', clientGone);
  body.once('close', () => body.readableEnded || clientGone());
  let stopWatching = () => {};
  try {
    // The file exists before a byte flows, so the removal below cannot run ahead of its creation.
    const written = pipeline(counter, sniffer, endCheck, await createNewFileStream(partial, 0o600));
    body.pipe(counter);
    stopWatching = watchProgress(body, counter, () => bytes, limits.idleTimeoutMs);
    await written;
    stopWatching();
    if (bytes === 0) throw new UploadError(400, 'empty_upload', 'the upload is empty; send the .sql or .sql.gz file as the request body');
    const whole = endCheck.verdict();
    if (!whole.ok) throw new UploadError(422, whole.problem === 'other-database' ? 'sql_other_database' : 'sql_incomplete', `${whole.reason}; nothing was kept`);
    await fsyncFile(partial);
    const final = path.join(dir, `${id}${gzip ? '.sql.gz' : '.sql'}`);
    await fs.rename(partial, final);
    return { path: final, bytes, gzip };
  } catch (err) {
    stopWatching();
    body.unpipe(counter);
    await fs.rm(partial, { force: true });
    if (err instanceof UploadError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      const free = await freeBytes(dir).catch(() => 0);
      throw new UploadError(507, 'insufficient_storage', `BACKUP_DIR ran full after ${bytes} bytes of the upload (free now: ${formatBytes(free)}); nothing was kept`);
    }
    throw new UploadError(400, 'upload_failed', `upload failed: ${(err as Error).message}`);
  } finally {
    body.off('error', clientGone);
  }
}

/**
 * After refusing an upload early: read and drop what the client is still sending, so it can read
 * our answer instead of running into a reset, but for `lingerMs` at most; then close.
 */
export function discardRest(body: Readable & { socket?: { destroy(): void } }, lingerMs: number): void {
  if (body.readableEnded) return;
  const timer = setTimeout(() => body.socket?.destroy(), lingerMs);
  timer.unref();
  body.once('end', () => clearTimeout(timer));
  body.once('close', () => clearTimeout(timer));
  body.resume();
}

/** 507 with the numbers when the upload (as declared) and the margin do not fit. */
async function requireUploadSpace(dir: string, uploadBytes: number, marginBytes: number): Promise<void> {
  const free = await freeBytes(dir);
  const need = uploadBytes + marginBytes;
  if (free >= need) return;
  throw new UploadError(
    507,
    'insufficient_storage',
    `not enough free space in BACKUP_DIR for this upload: need ${formatBytes(need)} (${need} bytes: ${uploadBytes} for the file + ` +
      `${marginBytes} SPACE_MARGIN_MB), free ${formatBytes(free)} (${free} bytes)`,
  );
}

/**
 * Holds back the first SNIFF_BYTES until sniffSql has judged them, then passes everything on; a
 * refusal fails the pipeline before anything reached the file.
 */
function sniffGate(onJudged: (gzip: boolean) => void): Transform {
  let head: Buffer[] = [];
  let headBytes = 0;
  let judged = false;
  const judge = async (self: Transform): Promise<void> => {
    const all = Buffer.concat(head);
    head = [];
    if (all.length > 0) {
      const verdict = await sniffSql(all.subarray(0, SNIFF_BYTES));
      if (!verdict.ok) throw new UploadError(415, 'not_sql', `${verdict.reason}. Upload a .sql file or a .sql.gz made by mysqldump/mariadb-dump.`);
      onJudged(verdict.gzip);
    }
    judged = true;
    self.push(all);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (judged) return cb(null, chunk);
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes < SNIFF_BYTES) return cb();
      judge(this).then(() => cb(), cb);
    },
    flush(cb) {
      if (judged) return cb();
      judge(this).then(() => cb(), cb);
    },
  });
}

/** Fails `sink` (408) when a whole window passes with less than MIN_PROGRESS_BYTES. Returns stop(). */
function watchProgress(body: Readable, sink: Transform, received: () => number, windowMs: number): () => void {
  let atLastCheck = received();
  const timer = setInterval(() => {
    const now = received();
    if (now - atLastCheck < MIN_PROGRESS_BYTES) {
      clearInterval(timer);
      sink.destroy(
        new UploadError(408, 'upload_stalled', `the upload brought ${now - atLastCheck} bytes in ${windowMs / 1000} s (UPLOAD_IDLE_TIMEOUT); it was cut after ${now} bytes`),
      );
    }
    atLastCheck = now;
  }, windowMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  body.once('end', stop);
  return stop;
}

/**
 * Logical MariaDB backups with the stock command-line clients: `mariadb-dump` into a gzip file and
 * `mariadb` to load a dump (plain SQL or gzip) back into a database.
 *
 * Credentials: the password never appears on a command line or in a child's environment (both are
 * visible to other users via `ps`/`/proc`). Each client run gets a private option file (`[client]`
 * section, mode 0600, in a fresh mkdtemp directory, mode 0700) passed as
 * `--defaults-extra-file=<file>` (it must be the first argument); the directory is removed when the
 * child has exited. Caveat of `--defaults-extra-file`: the clients still read the global option
 * files before it and the user's `~/.my.cnf` after it, so a `~/.my.cnf` of the service user that
 * sets `password`/`user`/`host` would win over these settings.
 *
 * Everything is streamed with backpressure (pipeline): neither a dump nor a SQL file is ever held in
 * memory. Aborting via `signal` kills the client (SIGTERM, SIGKILL after 5 s) and rejects.
 *
 * Dump publication order (same as the volume archives): gzip data → `<file>.partial` → fsync →
 * sidecar `<file>.sha256` (sha256sum format, atomic) → rename to `<file>` → fsync the directory. A
 * failed dump (client exit ≠ 0, or output without mariadb-dump's closing `-- Dump completed` line,
 * i.e. a truncated dump) leaves neither the .partial nor the sidecar nor a file under the final
 * name. An existing final file is never overwritten.
 *
 * Loading: `DROP DATABASE IF EXISTS` + `CREATE DATABASE … CHARACTER SET utf8mb4`, then the file is
 * fed to `mariadb <database>` (stdin; gunzipped on the fly when it starts with the gzip magic bytes
 * 1f 8b, whatever its name). The client stops at the first failing statement and the load rejects
 * with its message (`ERROR 1064 (42000) at line 3: …`); the database is then left partially
 * loaded. Dumps made with `mariadb-dump --databases`/`--all-databases` contain
 * `CREATE DATABASE`/`USE` statements naming their original database: the client obeys them, so the
 * data would go into *that* database, not into `db.database` (which stays empty). We scan the first
 * 64 KiB of the SQL for such statements naming another database and log a warning, but do not fail
 * (restoring into the original name can be intended). Dumps written by `dumpDatabase` name no
 * database and always load into `db.database`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Logger } from 'pino';
import { exists, fsyncDir, fsyncFile, writeFileAtomic } from '../engine/fs/atomic.js';
import { progressReporter } from '../engine/progress.js';

export interface DbSettings {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  ssl?: { ca?: string; cert?: string; key?: string; verifyServerCert?: boolean };
}

export interface DumpResult {
  file: string;
  path: string;
  /** Size of the compressed file. */
  size: number;
  sha256: string;
  durationMs: number;
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

export interface LoadOptions {
  signal?: AbortSignal;
  logger: Logger;
  /** Bytes of the file (as stored, i.e. compressed for gzip) read so far, of its size. Throttled, plus a final call. */
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  /** Default 500 ms; 0 reports every chunk. */
  progressIntervalMs?: number;
}

/** A MariaDB client exited non-zero, was killed, or produced an incomplete dump. */
export class DbCommandError extends Error {
  override readonly name = 'DbCommandError';
  constructor(
    message: string,
    /** Exit code of the client; null when it was killed by a signal or did not fail itself. */
    readonly exitCode: number | null,
    /** Trimmed stderr of the client, at most its last STDERR_KEEP characters. */
    readonly stderr: string,
    readonly command: string,
  ) {
    super(message);
  }
}

const DUMP_BIN = 'mariadb-dump';
const CLIENT_BIN = 'mariadb';
const STDERR_KEEP = 2000;
const TAIL_KEEP = 512;
export const COMPLETION_MARK = '-- Dump completed';
const SNIFF_BYTES = 64 * 1024;
const KILL_GRACE_MS = 5000;
/** Client-side limit for one row/statement; the server's own max_allowed_packet still applies. */
const MAX_ALLOWED_PACKET = '1G';
const DB_NAME_RE = /^[A-Za-z0-9_]+$/;

// ---------------------------------------------------------------------------------------------
// Option file and argv (pure)

/**
 * Quote a value for a MariaDB option file: inside double quotes `#` is not a comment, and the
 * parser (mysys my_default.c) unescapes \\ \" \' \n \r \t \b.
 */
export function quoteOptionValue(value: string): string {
  if (value.includes('\0')) throw new Error('option value must not contain a NUL character');
  const escaped = value.replace(/[\\"'\n\r\t\b]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\b':
        return '\\b';
      default:
        return `\\${c}`;
    }
  });
  return `"${escaped}"`;
}

/** The `[client]` option file for `db` (contains the password: write it 0600 only). */
export function optionFileContent(db: DbSettings): string {
  if (!Number.isInteger(db.port) || db.port < 1 || db.port > 65535) throw new Error(`invalid MariaDB port ${db.port}`);
  const lines = ['[client]', `user=${quoteOptionValue(db.user)}`];
  // Undefined: no password line at all (an option file may supply one); '' = explicitly none.
  if (db.password !== undefined) lines.push(`password=${quoteOptionValue(db.password)}`);
  lines.push(`host=${quoteOptionValue(db.host)}`, `port=${db.port}`);
  if (db.ssl) {
    lines.push('ssl');
    if (db.ssl.ca) lines.push(`ssl-ca=${quoteOptionValue(db.ssl.ca)}`);
    if (db.ssl.cert) lines.push(`ssl-cert=${quoteOptionValue(db.ssl.cert)}`);
    if (db.ssl.key) lines.push(`ssl-key=${quoteOptionValue(db.ssl.key)}`);
    if (db.ssl.verifyServerCert === true) lines.push('ssl-verify-server-cert');
    else if (db.ssl.verifyServerCert === false) lines.push('skip-ssl-verify-server-cert');
  }
  return `${lines.join('\n')}\n`;
}

/** argv of a client run: the option file must come first (the clients ignore it anywhere else). */
export function clientArgs(defaultsFile: string, args: readonly string[]): string[] {
  return [`--defaults-extra-file=${defaultsFile}`, ...args];
}

export function dumpArgs(database: string): string[] {
  return [
    '--single-transaction',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    `--max-allowed-packet=${MAX_ALLOWED_PACKET}`,
    database,
  ];
}

function loadArgs(database: string): string[] {
  return ['--batch', '--default-character-set=utf8mb4', `--max-allowed-packet=${MAX_ALLOWED_PACKET}`, database];
}

function assertDbName(name: string): void {
  if (!DB_NAME_RE.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)} (allowed: A-Z a-z 0-9 _)`);
}

// ---------------------------------------------------------------------------------------------
// Public API

export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
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
    await withDefaultsFile(db, async (defaultsFile) => {
      const run = runClient(DUMP_BIN, clientArgs(defaultsFile, dumpArgs(db.database)), ['ignore', 'pipe', 'pipe'], signal);
      let streamErr: unknown;
      try {
        await pipeline(run.child.stdout!, tail, createGzip({ level: gzipLevel }), hasher, createWriteStream(partial, { flags: 'wx', mode: 0o640 }));
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
    const manifest = { file: fileName, kind: 'sql', size: hasher.bytes, sha256, durationMs: Date.now() - started, createdAt: new Date().toISOString(), tool: 'oob-backup' };
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    signal?.throwIfAborted();
    await rename(partial, finalPath);
    renamed = true;
    await fsyncDir(dir);
    const result: DumpResult = { file: fileName, path: finalPath, size: hasher.bytes, sha256, durationMs: Date.now() - started };
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

export async function loadSqlFile(db: DbSettings, file: string, o: LoadOptions): Promise<{ bytes: number; durationMs: number }> {
  const started = Date.now();
  const { signal } = o;
  const log = o.logger.child({ module: 'mariadb' });
  assertDbName(db.database);
  signal?.throwIfAborted();

  const st = await stat(file);
  if (!st.isFile()) throw new Error(`${file} is not a regular file`);
  const gzip = await isGzipFile(file);
  const report = progressReporter(o.onProgress, o.progressIntervalMs, log);
  const progress = { bytesDone: 0, bytesTotal: st.size };

  try {
    await withDefaultsFile(db, async (defaultsFile) => {
      // (1) A clean database. No user input reaches the SQL: the name was validated above.
      const q = `\`${db.database}\``;
      const sql = `DROP DATABASE IF EXISTS ${q}; CREATE DATABASE ${q} CHARACTER SET utf8mb4`;
      const prep = runClient(CLIENT_BIN, clientArgs(defaultsFile, ['--batch', '-e', sql]), ['ignore', 'ignore', 'pipe'], signal);
      const prepExit = await prep.done;
      signal?.throwIfAborted();
      if (prepExit.code !== 0) throw commandError(CLIENT_BIN, prepExit, `recreating database ${db.database} failed`);

      // (2) The file into `mariadb <database>`.
      const counter = new Counter((n) => {
        progress.bytesDone += n;
        report(progress);
      });
      const sniffer = new DatabaseSniffer(SNIFF_BYTES, (names) => {
        const others = names.filter((n) => n !== db.database);
        if (others.length === 0) return;
        log.warn(
          { database: db.database, file, names: others },
          `${path.basename(file)} switches to database(s) ${others.join(', ')} (USE/CREATE DATABASE, e.g. a --databases dump): ` +
            `its statements after that go into those databases, not into ${db.database}`,
        );
      });
      const run = runClient(CLIENT_BIN, clientArgs(defaultsFile, loadArgs(db.database)), ['pipe', 'ignore', 'pipe'], signal);
      let streamErr: unknown;
      try {
        const source = createReadStream(file);
        if (gzip) await pipeline(source, counter, createGunzip(), sniffer, run.child.stdin!);
        else await pipeline(source, counter, sniffer, run.child.stdin!);
      } catch (err) {
        streamErr = err;
        // EPIPE when the client stopped at an error (its exit status tells why); otherwise
        // (unreadable/corrupt file) stop the client so it does not commit a half file silently.
        run.kill();
      }
      const exit = await run.done;
      signal?.throwIfAborted();
      if (exit.code !== 0 && !(exit.killedByUs && streamErr)) throw commandError(CLIENT_BIN, exit, `loading ${file} into database ${db.database} failed`);
      if (streamErr) throw new Error(`loading ${file} into database ${db.database} failed: ${(streamErr as Error).message}`, { cause: streamErr });
      if (exit.stderr) log.warn({ database: db.database, stderr: exit.stderr }, `${CLIENT_BIN} reported warnings`);
    });
  } catch (err) {
    if (signal?.aborted) throw abortError(signal, `loading ${file} into database ${db.database} aborted`, err);
    throw err;
  }
  report(progress, true);
  const durationMs = Date.now() - started;
  log.info({ database: db.database, file, bytes: st.size, gzip, durationMs }, 'SQL file loaded');
  return { bytes: st.size, durationMs };
}

// ---------------------------------------------------------------------------------------------
// Internals

/** Run `fn` with a private option file for `db`; the file and its directory are removed afterwards. */
async function withDefaultsFile<T>(db: DbSettings, fn: (file: string) => Promise<T>): Promise<T> {
  const content = optionFileContent(db);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'oob-mariadb-'));
  try {
    await chmod(tmpDir, 0o700);
    const file = path.join(tmpDir, 'client.cnf');
    await writeFile(file, content, { mode: 0o600, flag: 'wx' });
    return await fn(file);
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

interface ClientExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  killedByUs: boolean;
}

interface ClientRun {
  child: ChildProcess;
  done: Promise<ClientExit>;
  kill: () => void;
}

function runClient(bin: string, args: string[], stdio: ['ignore' | 'pipe', 'ignore' | 'pipe', 'pipe'], signal?: AbortSignal): ClientRun {
  // No credentials through the environment either (MYSQL_PWD would be visible in /proc/<pid>/environ
  // to the same user, and would override nothing we want anyway).
  const env = { ...process.env };
  delete env.MYSQL_PWD;
  const child = spawn(bin, args, { stdio, env });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
    if (stderr.length > 4 * STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
  });
  let killedByUs = false;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killedByUs = true;
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    killTimer.unref();
  };
  const onAbort = () => kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) kill();
  const done = new Promise<ClientExit>((resolve, reject) => {
    child.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const code = (err as NodeJS.ErrnoException).code;
      reject(code === 'ENOENT' ? new Error(`${bin} not found on PATH (install the MariaDB client)`, { cause: err }) : err);
    });
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolve({ code, signal: sig, stderr: tailChars(stderr.trim(), STDERR_KEEP), killedByUs });
    });
  });
  // A spawn error also surfaces through the streams; keep an unobserved `done` from crashing.
  done.catch(() => undefined);
  return { child, done, kill };
}

function commandError(bin: string, exit: ClientExit, what: string): DbCommandError {
  const how = exit.code !== null ? `exit code ${exit.code}` : `killed by ${exit.signal ?? 'a signal'}`;
  const detail = exit.stderr ? `: ${tailChars(exit.stderr, 500)}` : '';
  return new DbCommandError(`${what}: ${bin} ${how}${detail}`, exit.code, exit.stderr, bin);
}

function abortError(signal: AbortSignal, message: string, cause: unknown): Error {
  const err = new Error(message, { cause: signal.reason ?? cause });
  err.name = 'AbortError';
  return err;
}

function tailChars(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(-n)}`;
}

/** Pass-through that counts bytes. */
class Counter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** Pass-through that counts bytes and keeps the last `keep` bytes (for the completion line). */
class TailKeeper extends Transform {
  private tail = Buffer.alloc(0);
  constructor(
    private readonly keep: number,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    const joined = chunk.length >= this.keep ? chunk.subarray(chunk.length - this.keep) : Buffer.concat([this.tail, chunk]);
    // Copy: never pin a large chunk in memory just for its last bytes.
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.keep)));
    cb(null, chunk);
  }
  text(): string {
    return this.tail.toString('latin1');
  }
}

/** Pass-through that hashes and counts the bytes on their way to disk. */
class HashingCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Pass-through that looks at the first `limit` bytes of SQL for `USE <db>` / `CREATE DATABASE <db>`
 * and reports the names found once (at the limit or at the end).
 */
class DatabaseSniffer extends Transform {
  private head: Buffer[] = [];
  private headLen = 0;
  private done = false;
  constructor(
    private readonly limit: number,
    private readonly onNames: (names: string[]) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.done) {
      const take = chunk.subarray(0, this.limit - this.headLen);
      this.head.push(Buffer.from(take));
      this.headLen += take.length;
      if (this.headLen >= this.limit) this.inspect();
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (!this.done) this.inspect();
    cb();
  }
  private inspect(): void {
    this.done = true;
    const text = Buffer.concat(this.head).toString('utf8');
    this.head = [];
    try {
      this.onNames(databaseNamesIn(text));
    } catch {
      // only a warning
    }
  }
}

/** Database names of `USE x` and `CREATE DATABASE [IF NOT EXISTS] x` statements at line starts. */
export function databaseNamesIn(sql: string): string[] {
  const names = new Set<string>();
  const ident = '(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))';
  const re = new RegExp(
    `^\\s*(?:USE\\s+${ident}|CREATE\\s+(?:DATABASE|SCHEMA)\\s+(?:/\\*!\\d+\\s*IF\\s+NOT\\s+EXISTS\\s*\\*/\\s*|IF\\s+NOT\\s+EXISTS\\s+)?${ident})`,
    'gim',
  );
  for (const m of sql.matchAll(re)) {
    const name = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (name !== undefined) names.add(name.replace(/``/g, '`'));
  }
  return [...names];
}

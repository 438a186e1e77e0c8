/**
 * Loading a SQL file (plain or gzip) into a database with the `mariadb` client.
 *
 * `DROP DATABASE IF EXISTS` + `CREATE DATABASE` with the character set and collation its dump
 * recorded, else those the database had (utf8mb4 when it did not exist; a plain dump names neither,
 * and tables Elexis creates later and routines take the database's), then the file is fed to
 * `mariadb <database>` (stdin; gunzipped on the fly when it starts with the gzip magic bytes 1f 8b,
 * whatever its name), streamed with backpressure. The client stops at the first failing statement
 * and the load rejects with its message (`ERROR 1064 (42000) at line 3: …`); the database is then
 * left partially loaded. Dumps written by `dumpDatabase` name no database and always load into
 * `db.database`; a file whose statements switch to another database (`--databases` dumps) is
 * refused by checkSqlFile (core/sql-statement-scan.ts) before the load, not here.
 *
 * The file is SQL for the server only: both client runs get SAFE_CLIENT_ARGS (`--binary-mode
 * --sandbox`, see ./client.ts), so client commands in the file (`\! …`, `\. file`, `system`,
 * `source`, `tee`) are refused and the load fails at that line, like at a SQL error. The prep run
 * has them too: a client without `--sandbox` then fails before the database is dropped.
 *
 * checkSqlFile (./sql-check.ts) reads the file once before any of that (core/sql-dump-end.ts): a
 * file that starts like a mysqldump/mariadb-dump file but lacks its `-- Dump completed` line at the
 * end, or a gzip that does not decompress to its end, is refused there, while the database is still
 * untouched. The restore job loads the private copy that pass wrote, not the file it read (why:
 * ./sql-check.ts); the load opens it once (no symlink, a regular file) and reads it through that fd.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';
import { progressReporter } from '../engine/progress.js';
import { abortError, assertDbName, CLIENT_BIN, commandError, DbCommandError, MAX_ALLOWED_PACKET, runClient, SAFE_CLIENT_ARGS, type ClientExit } from './client.js';
import { clientArgs, withDefaultsFile, type DbSettings } from './option-file.js';
import { CHARSET_NAME, type DatabaseDefaults } from './server-facts.js';
import { openRegularFile } from './sql-check.js';
import { Counter } from './stream-checks.js';

export { checkSqlFile } from './sql-check.js';

/**
 * How long the DROP may wait for another client's lock on the database (an open transaction of a
 * running Elexis or Webelexis) before the restore fails with nothing changed. MariaDB's own default
 * is a day, during which every query on the database waits behind the DROP.
 */
export const LOCK_WAIT_SECONDS = 60;

export interface LoadOptions {
  signal?: AbortSignal;
  logger: Logger;
  /** Bytes of the file (as stored, i.e. compressed for gzip) read so far, of its size. Throttled, plus a final call. */
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  /** Default 500 ms; 0 reports every chunk. */
  progressIntervalMs?: number;
  /** How long the DROP waits for another client's lock (default LOCK_WAIT_SECONDS). */
  lockWaitSeconds?: number;
  /** The character set and collation to recreate the database with (its dump's manifest); default: those it has now. */
  databaseDefaults?: DatabaseDefaults;
}

/** The client's arguments (after the option file) for loading SQL from stdin into `database`. */
export function loadArgs(database: string): string[] {
  // --comments: the client would otherwise strip `-- …` lines from what it sends, and a routine's
  // body would lose the comments it was created with (the dump holds them).
  // --show-warnings: a dump runs in a lenient sql_mode, where a value the server changes (cut,
  // clamped, replaced) is a warning, not an error: the load must say so (see LoadWarnings).
  return ['--batch', ...SAFE_CLIENT_ARGS, '--comments', '--show-warnings', '--default-character-set=utf8mb4', `--max-allowed-packet=${MAX_ALLOWED_PACKET}`, database];
}

/**
 * The statements that recreate the database: with the character set and collation given (its
 * dump's manifest), else those it has now (read before the DROP, utf8mb4 when it does not exist),
 * waiting at most LOCK_WAIT_SECONDS for another client's lock. No user input reaches the SQL: the
 * name was validated (assertDbName), the character set names are checked (CHARSET_NAME).
 */
export function recreateSql(database: string, lockWaitSeconds = LOCK_WAIT_SECONDS, defaults?: DatabaseDefaults): string {
  const q = `\`${database}\``;
  const wait = `SET SESSION lock_wait_timeout = ${Math.max(1, Math.floor(lockWaitSeconds))}`;
  if (defaults && CHARSET_NAME.test(defaults.charset) && CHARSET_NAME.test(defaults.collation)) {
    return [wait, `DROP DATABASE IF EXISTS ${q}`, `CREATE DATABASE ${q} CHARACTER SET ${defaults.charset} COLLATE ${defaults.collation}`].join('; ');
  }
  return [
    wait,
    `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME INTO @oob_charset, @oob_collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${database}'`,
    `DROP DATABASE IF EXISTS ${q}`,
    `SET @oob_create = CONCAT('CREATE DATABASE ${q} CHARACTER SET ', IFNULL(@oob_charset, 'utf8mb4'), IFNULL(CONCAT(' COLLATE ', @oob_collation), ''))`,
    'PREPARE oob_create FROM @oob_create',
    'EXECUTE oob_create',
    'DEALLOCATE PREPARE oob_create',
  ].join('; ');
}

/** The client's arguments for the statements that recreate the database. */
export function prepArgs(sql: string): string[] {
  return ['--batch', ...SAFE_CLIENT_ARGS, '-e', sql];
}

/** A client that does not know SAFE_CLIENT_ARGS (older than MariaDB 10.5.25/10.6.18/10.11.8/11.0.6). */
function clientTooOld(exit: ClientExit): DbCommandError | undefined {
  if (!/unknown (option|variable)\b.*(sandbox|binary[-_]mode)/i.test(exit.stderr)) return undefined;
  return new DbCommandError(
    `the ${CLIENT_BIN} client on this worker is too old for a safe SQL restore: it lacks --sandbox, which keeps commands in the file ` +
      `from running programs (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 or newer); the database was not changed: ${exit.stderr}`,
    exit.code, exit.stderr, CLIENT_BIN,
  );
}

/** The client stopped at a client command in the file (`\! …`, `\. file`, `tee …`): say what that means. */
function clientCommandHint(exit: ClientExit): string {
  return /Not allowed in the sandbox mode|Unknown command '\\/.test(exit.stderr)
    ? ' (the file contains a command for the mariadb client, not SQL; a restore refuses client commands: a dump made by mariadb-dump or mysqldump has none)'
    : '';
}

/** Whether the file starts with the gzip magic bytes 1f 8b (whatever its name). */
export async function isGzipFile(file: string | FileHandle): Promise<boolean> {
  const fh = typeof file === 'string' ? await open(file, 'r') : file;
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    if (typeof file === 'string') await fh.close();
  }
}

export async function loadSqlFile(db: DbSettings, file: string, o: LoadOptions): Promise<{ bytes: number; durationMs: number; warnings: { count: number; messages: string[] } }> {
  const started = Date.now();
  const { signal } = o;
  const log = o.logger.child({ module: 'mariadb' });
  assertDbName(db.database);
  signal?.throwIfAborted();

  // One fd for the gzip sniff and the load: what is read is the file opened here, whatever the name points to later.
  const { fh, st } = await openRegularFile(file);
  const gzip = await isGzipFile(fh).catch(async (err: Error) => {
    await fh.close();
    throw err;
  });
  const report = progressReporter(o.onProgress, o.progressIntervalMs, log);
  const progress = { bytesDone: 0, bytesTotal: st.size };
  const warnings = new LoadWarnings();

  try {
    await withDefaultsFile(db, async (defaultsFile) => {
      // (1) A clean database. No user input reaches the SQL: the name was validated above.
      const prep = runClient(CLIENT_BIN, clientArgs(defaultsFile, prepArgs(recreateSql(db.database, o.lockWaitSeconds, o.databaseDefaults))), ['ignore', 'ignore', 'pipe'], signal);
      const prepExit = await prep.done;
      signal?.throwIfAborted();
      if (prepExit.code !== 0) {
        if (/\bERROR 1205\b/.test(prepExit.stderr)) {
          throw new DbCommandError(
            `database ${db.database} was not dropped: another client held it for ${o.lockWaitSeconds ?? LOCK_WAIT_SECONDS} s (an open transaction: is Elexis or Webelexis ` +
              `still running?); stop every client of the database and restore again; nothing was changed (${prepExit.stderr})`,
            prepExit.code, prepExit.stderr, CLIENT_BIN,
          );
        }
        throw clientTooOld(prepExit) ?? commandError(CLIENT_BIN, prepExit, `recreating database ${db.database} failed`);
      }

      // (2) The file into `mariadb <database>`.
      const counter = new Counter((n) => {
        progress.bytesDone += n;
        report(progress);
      });
      const run = runClient(CLIENT_BIN, clientArgs(defaultsFile, loadArgs(db.database)), ['pipe', 'pipe', 'pipe'], signal);
      run.child.stdout!.setEncoding('utf8').on('data', (t: string) => warnings.see(t));
      let streamErr: unknown;
      try {
        const source = fh.createReadStream({ start: 0, autoClose: false });
        if (gzip) await pipeline(source, counter, createGunzip(), run.child.stdin!);
        else await pipeline(source, counter, run.child.stdin!);
      } catch (err) {
        streamErr = err;
        // EPIPE when the client stopped at an error (its exit status tells why); otherwise
        // (unreadable/corrupt file) stop the client so it does not commit a half file silently.
        run.kill();
      }
      const exit = await run.done;
      signal?.throwIfAborted();
      // What the client says goes into the log and the job's failed reason: without the rows it echoes.
      const said = { ...exit, stderr: withoutData(exit.stderr) };
      if (exit.code !== 0 && !(exit.killedByUs && streamErr)) throw commandError(CLIENT_BIN, said, `loading ${file} into database ${db.database} failed${clientCommandHint(exit)}`);
      if (streamErr) throw new Error(`loading ${file} into database ${db.database} failed: ${(streamErr as Error).message}`, { cause: streamErr });
      if (said.stderr) log.warn({ database: db.database, stderr: said.stderr }, `${CLIENT_BIN} reported warnings`);
    });
  } catch (err) {
    if (signal?.aborted) throw abortError(signal, `loading ${file} into database ${db.database} aborted`, err);
    throw err;
  } finally {
    await fh.close();
  }
  report(progress, true);
  const durationMs = Date.now() - started;
  warnings.end();
  if (warnings.count > 0) log.warn({ database: db.database, count: warnings.count, warnings: warnings.messages }, 'MariaDB changed values while loading');
  log.info({ database: db.database, file, bytes: st.size, gzip, durationMs }, 'SQL file loaded');
  return { bytes: st.size, durationMs, warnings: { count: warnings.count, messages: warnings.messages } };
}

/**
 * A warning's text without the value it quotes (`Incorrect integer value: 'Müller' for column …`):
 * a patient's data has no place in the log or the job's result. Column names stay.
 */
export function withoutValues(message: string): string {
  return message.replace(/(\bvalue:\s*)'(?:[^'\\]|\\.|'')*'/gi, "$1'…'");
}

/**
 * The client's stderr after a failed statement without the data it quotes: it echoes the whole
 * statement between lines of dashes (`INSERT INTO patient VALUES (97,'Anna Zürcher',…)`) and quotes
 * values in its error (`Duplicate entry 'Zürcher'`, `near ''Zürcher')' at line 1`). Found by an
 * audit in a job's failed reason, which Redis and the API keep. Only the client's own lines stay
 * (`ERROR 1062 (23000) at line 3: …`, with the file's line number to look at), their quoted data
 * as '…'.
 */
export function withoutData(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => /^(ERROR|Warning|mariadb:)/.test(l))
    .map((l) =>
      withoutValues(l)
        // A fragment that runs over several lines ends this one with no closing quote: cut there.
        .replace(/\bnear '.*$/, (m) => `near '…'${/' at line \d+$/.exec(m)?.[0].slice(1) ?? ''}`)
        .replace(/\bDuplicate entry '.*$/, (m) => `Duplicate entry '…'${/' for key .*$/.exec(m)?.[0].slice(1) ?? ''}`),
    )
    .join('\n');
}

/**
 * The warnings the client prints (`Warning (Code 1265): Data truncated for column 'e' at row 1`)
 * but those that change nothing: a value given for a generated column (mariadb-dump writes them,
 * the server computes them again) and the event scheduler being off. The first MESSAGES_KEPT kept.
 */
class LoadWarnings {
  /** 1906: a value for a generated column, ignored. 1105 is MariaDB's catch-all code: only its event scheduler message. */
  private static harmless(code: number, message: string): boolean {
    return code === 1906 || (code === 1105 && /event scheduler is switched off/i.test(message));
  }
  private static readonly MESSAGES_KEPT = 10;
  private rest = '';
  count = 0;
  readonly messages: string[] = [];
  see(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!.slice(-1000);
    for (const l of lines) this.line(l);
  }
  end(): void {
    if (this.rest) this.line(this.rest);
    this.rest = '';
  }
  private line(l: string): void {
    const m = /^Warning \(Code (\d+)\): (.*)$/.exec(l.trim());
    if (!m || LoadWarnings.harmless(Number(m[1]), m[2]!)) return;
    this.count++;
    if (this.messages.length < LoadWarnings.MESSAGES_KEPT) this.messages.push(withoutValues(m[2]!).slice(0, 300));
  }
}

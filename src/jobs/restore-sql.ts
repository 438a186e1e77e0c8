/**
 * Restore the Elexis database from a SQL file: first one pass over the file that checks it (a dump
 * cut short or a broken gzip is refused here, nothing changed: db/sql-check.ts checkSqlFile) and
 * writes what it read into a private copy, then a safety dump of the current database (unless
 * skipped), then drop + create the database and stream the private copy into the `mariadb` client:
 * the bytes loaded are the bytes checked. When the client fails, the reason says which safety dump
 * holds the state from before.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { dumpFileName } from '../core/names.js';
import { parseArchiveName } from '../core/names.js';
import { formatBytes, requireSpace } from '../engine/fs/free-space.js';
import type { Logger } from '../runtime/logger.js';
import { dumpDatabase } from '../db/dump.js';
import { checkSqlFile, loadSqlFile } from '../db/load.js';
import { CHARSET_NAME, databaseExists, definerRights, describeSessions, foreignReferences, otherSessions, sameAccount, serverPacketLimit, sessionVisibility, type DatabaseDefaults } from '../db/server-facts.js';
import type { DbSettings } from '../db/option-file.js';
import type { RestoreRequest } from '../stores/restore-requests.js';
import { noteRestored } from '../stores/restored-at.js';
import { uploadsDir } from '../stores/uploads.js';
import { claimSafetyStamp } from './safety-stamp.js';
import { noteSafetyBackup } from '../engine/manifest-notes.js';
import { readManifest, readSidecarSha256 } from '../engine/verify/archive-verification.js';
import { fetchFromTarget, type FromTarget } from './restore-fetch.js';
import { noteSqlRestoreState, settleDeadSqlRestores, SQL_WORK_PREFIX, type SqlRestoreState } from './sql-restore-copies.js';
import { sqlRestoreMessage, type SqlRestoreSummary } from './sql-restore-summary.js';

export type { SqlRestoreSummary };

export function dbSettings(ctx: AppContext): DbSettings {
  const db = ctx.config.db;
  if (!db) throw new Error('no database is configured (DB_HOST)');
  return { host: db.host, port: db.port, user: db.user, password: db.password, database: db.database, ssl: db.ssl };
}

/** The character set and collation our dump's manifest recorded for the database (none for an upload or an unreadable manifest). */
async function dumpedDefaults(file: string): Promise<DatabaseDefaults | undefined> {
  const raw = await fs.readFile(`${file}.manifest.json`, 'utf8').catch(() => undefined);
  let m: { tool?: unknown; database?: { charset?: unknown; collation?: unknown } };
  try {
    m = raw ? (JSON.parse(raw) as typeof m) : {};
  } catch {
    return undefined;
  }
  const { charset, collation } = m.database ?? {};
  if (m.tool !== 'oob-backup' || typeof charset !== 'string' || typeof collation !== 'string') return undefined;
  return CHARSET_NAME.test(charset) && CHARSET_NAME.test(collation) ? { charset, collation } : undefined;
}

/**
 * The server takes each statement as one packet of at most its max_allowed_packet: a file with a
 * longer one (a row holding a document of 9 MB is an INSERT of 19 MB with --hex-blob, where the
 * server's default is 16 MB) would stop loading halfway, after the database was dropped, and so
 * would its safety dump. Refused before anything changes, saying what to raise.
 */
async function requirePacketRoom(db: DbSettings, longestStatement: number, signal?: AbortSignal): Promise<void> {
  const limit = await serverPacketLimit(db, signal).catch((err: Error) => {
    throw new Error(`asking MariaDB for its limits failed, nothing was changed: ${err.message}`, { cause: err });
  });
  if (longestStatement <= limit) return;
  const enough = `${Math.ceil((longestStatement * 1.25) / 2 ** 20)}M`;
  throw new UnrecoverableError(
    `the SQL file holds a statement of ${formatBytes(longestStatement)} (a row with a large document, say), but the MariaDB server takes at most ` +
      `${formatBytes(limit)} per statement (max_allowed_packet): the load would stop halfway, after the database was dropped; raise it on the server ` +
      `(SET GLOBAL max_allowed_packet = ${enough.replace('M', '*1024*1024')}; and max_allowed_packet = ${enough} under [mariadbd] in its configuration) ` +
      'and restore again; nothing was changed',
  );
}

/**
 * A restore drops the database and loads the file under any client still connected: what Elexis
 * or Webelexis wrote meanwhile ended up in the restored database as if it had been in the backup
 * (found by a tester: three rows of a client writing during the load stayed). Refused before
 * anything changes, naming the connections; the admin stops the clients and requests it again.
 * Without the PROCESS privilege only DB_USER's own connections are seen: the summary says so
 * (otherUsersUnchecked), since what cannot be seen cannot be refused.
 */
async function requireNoOtherClients(db: DbSettings, signal?: AbortSignal): Promise<void> {
  const others = await otherSessions(db, signal).catch((err: Error) => {
    throw new Error(`asking MariaDB which clients use ${db.database} failed, nothing was changed: ${err.message}`, { cause: err });
  });
  if (others.length === 0) return;
  throw new UnrecoverableError(
    `${others.length} other connection(s) use database ${db.database} or, without a default database, can write into it by naming it: ${describeSessions(others)}; what they write during the restore would be mixed into the restored data. ` +
      'Stop Elexis, Webelexis and every other client of the database (or end the connections with KILL <connection> as a MariaDB administrator), then request the restore again; nothing was changed',
  );
}

/**
 * Another database's foreign key into this one makes `DROP DATABASE` fail half-way, with some of
 * the tables already gone: refused before anything changes, naming the keys.
 */
async function requireNoForeignReferences(db: DbSettings, signal?: AbortSignal): Promise<void> {
  const refs = await foreignReferences(db, signal).catch((err: Error) => {
    throw new Error(`asking MariaDB for foreign keys into ${db.database} failed, nothing was changed: ${err.message}`, { cause: err });
  });
  if (refs.length === 0) return;
  throw new UnrecoverableError(
    `${refs.length} foreign key(s) of other databases reference tables of ${db.database}: ${refs.slice(0, 5).join(', ')}${refs.length > 5 ? ', …' : ''}; ` +
      'MariaDB cannot drop the database under them (it would stop after dropping some of its tables). Drop those foreign keys (ALTER TABLE … DROP FOREIGN KEY …), restore, then add them again; nothing was changed',
  );
}

/**
 * A view, trigger, routine or event is created for its DEFINER; one owned by another user than
 * DB_USER takes the SET USER (or SUPER) privilege. Without it the load stops at the first such
 * object, after the database was dropped, and a safety dump of that database stops there too.
 * Refused before anything changes, naming the owners and the grant. With roles enabled the
 * privileges cannot be told from here: the load is left to try.
 */
async function requireDefinerRights(db: DbSettings, definers: readonly string[], signal?: AbortSignal): Promise<void> {
  if (definers.length === 0) return;
  const rights = await definerRights(db, signal).catch((err: Error) => {
    throw new Error(`asking MariaDB for the privileges of ${db.user} failed, nothing was changed: ${err.message}`, { cause: err });
  });
  if (rights.mayDefineForOthers || rights.roles) return;
  const others = definers.filter((d) => !sameAccount(d, rights.user));
  if (others.length === 0) return;
  const at = rights.user.lastIndexOf('@');
  const grantee = `'${rights.user.slice(0, at)}'@'${rights.user.slice(at + 1)}'`;
  const names = others.slice(0, 5).join(', ') + (others.length > 5 ? ` and ${others.length - 5} more` : '');
  throw new UnrecoverableError(
    `the SQL file creates views, triggers, routines or events owned by other MariaDB users (DEFINER ${names}), and DB_USER ` +
      `${rights.user} may not (it lacks the SET USER privilege): the load would stop at the first of them, after the database was dropped; ` +
      `grant it on the server (GRANT SET USER ON *.* TO ${grantee};) or set DB_USER to a user that has it, and restore again; nothing was changed`,
  );
}

/**
 * A set's dump is loaded only as it was written: its `.sha256` sidecar (written with it, and what
 * the listing's verification held it against) must match the bytes just read. A file changed or
 * replaced since (by hand, a damaged disk that still inflates) would otherwise load while the
 * listing says "verified". Uploads and dumps copied in without a sidecar have nothing to match.
 */
async function requireSidecarMatch(file: string, sha256: string): Promise<void> {
  const expected = await readSidecarSha256(file);
  if (expected === null) {
    // As the verify job holds it: one of ours (its manifest) without a readable sidecar cannot be checked.
    if (await readManifest(file).catch(() => undefined)) {
      throw new UnrecoverableError(`${path.basename(file)} has our manifest but its .sha256 sidecar is missing or unreadable, so the dump cannot be checked; restore another set, or check the file; nothing was changed`);
    }
    return;
  }
  if (expected === sha256) return;
  throw new UnrecoverableError(
    `${path.basename(file)} is not the dump that was written: its sha256 is ${sha256}, its .sha256 sidecar says ${expected} ` +
      '(changed or damaged since); restore another set, or check the file; nothing was changed',
  );
}

/**
 * A directory only this worker writes (mkdtemp: new, 0700) in BACKUP_DIR, with room for a copy of
 * the file (./sql-restore-copies.ts). Those of restores that died are removed first: the caller
 * holds the restore hold, so no other restore is using one.
 */
async function privateWorkDir(ctx: AppContext, size: number, log: Logger): Promise<string> {
  const backupDir = ctx.config.backupDir;
  await settleDeadSqlRestores(ctx, log);
  await requireSpace(backupDir, size, 'a private copy of the SQL file, which the restore checks and loads so that a file changed meanwhile cannot be loaded unchecked').catch(
    (err: Error) => {
      throw new UnrecoverableError(`${err.message}; free some space and restore again; nothing was changed`);
    },
  );
  return fs.mkdtemp(path.join(backupDir, SQL_WORK_PREFIX));
}

/** `signal`: aborts when the database lock or the restore hold is lost; checked before the load. */
export async function restoreSql(
  ctx: AppContext,
  job: Job,
  request: RestoreRequest,
  log: Logger,
  signal?: AbortSignal,
  fromTarget: FromTarget = { identity: async () => undefined, fetched: [] },
): Promise<SqlRestoreSummary> {
  const started = Date.now();
  const db = dbSettings(ctx);
  const dumpName = ctx.config.db!.dumpName;
  const file = request.sqlFile!;
  if (request.from) {
    // A set's dump from an off-site target: fetched into BACKUP_DIR (checked against its sidecars) first.
    void job.updateProgress({ phase: 'fetch', from: request.from }).catch(() => undefined);
    await fetchFromTarget(ctx, request, [path.basename(file)], fromTarget, log, { signal }).catch((err: Error) => {
      throw new Error(`fetching the dump from ${request.from} failed, nothing was changed: ${err.message}`, { cause: err });
    });
  }
  // lstat: a symlink is refused by the check below, not followed here.
  const found = await fs.lstat(file).catch(() => undefined);
  if (!found) throw new Error(`the SQL file ${file} is gone; upload it again`);
  const size = found.size;
  const progress = (phase: string, extra: Record<string, unknown> = {}) => void job.updateProgress({ phase, ...extra }).catch(() => undefined);

  // The check writes what it reads into a private copy, and the load reads that copy: the bytes
  // loaded are the bytes checked, whatever happens to `file` meanwhile (why a copy: db/sql-check.ts).
  const work = await privateWorkDir(ctx, size, log);
  const state: SqlRestoreState = { id: request.id, database: db.database, phase: 'check', safetyDump: null };
  const copy = path.join(work, 'checked.sql');
  try {
    await noteSqlRestoreState(work, state);
    return await checkAndLoad(copy);
  } finally {
    await fs.rm(work, { recursive: true, force: true }).catch((err: Error) => log.error({ dir: work, err: err.message }, 'could not remove the private copy of the SQL file'));
  }

  async function checkAndLoad(copy: string): Promise<SqlRestoreSummary> {
    // Before the safety dump, so a refused file costs neither the dump nor its space.
    progress('check-sql', { bytesDone: 0, bytesTotal: size });
    const checked = await checkSqlFile(file, db.database, { signal, logger: log, copyTo: copy, onProgress: (p) => progress('check-sql', p) }).catch((err: Error) => {
      throw new Error(`checking the SQL file failed, nothing was changed: ${(signal?.reason as Error | undefined)?.message ?? err.message}`, { cause: err });
    });
    // A retry reads the same bytes: unrecoverable.
    if (!checked.ok) throw new UnrecoverableError(`${checked.reason}; nothing was changed`);
    await requireSidecarMatch(file, checked.sha256);
    if (!checked.dump) log.info({ file }, 'the SQL file has no mysqldump/mariadb-dump header: whether it is complete cannot be checked');
    await requirePacketRoom(db, checked.longestStatement, signal);
    await requireDefinerRights(db, checked.definers, signal);

    let safetyDump: string | null = null;
    // A new server's database may not exist yet (a restore from a target after a disaster): there is
    // nothing to keep, and mariadb-dump would fail on it.
    const existed = await databaseExists(db, signal);
    if (!existed) log.info({ database: db.database }, 'the database does not exist yet: no safety dump, the restore creates it');
    if (existed) await requireNoOtherClients(db, signal);
    if (existed) await requireNoForeignReferences(db, signal);
    const otherUsersUnchecked = existed && (await sessionVisibility(db, signal).catch(() => 'unknown' as const)) === 'own';
    if (otherUsersUnchecked) log.warn({ user: db.user }, 'DB_USER lacks the PROCESS privilege: clients of other MariaDB users cannot be seen, nor refused');
    if (!request.skipSafetyBackup && existed) {
      progress('safety-dump');
      // A dump is usually smaller than the upload it is replaced by; the upload's size is the estimate.
      await requireSpace(ctx.config.backupDir, size, 'the safety dump of the current database (or request with skipSafetyBackup)');
      const stamp = await claimSafetyStamp(ctx, `restore-${request.id}`);
      const dump = await dumpDatabase(db, { dir: ctx.config.backupDir, fileName: dumpFileName(dumpName, stamp), logger: log, gzipLevel: ctx.config.gzipLevel }).catch(
        (err: Error) => {
          throw new Error(`safety dump of database ${db.database} failed, nothing was changed: ${err.message}`);
        },
      );
      safetyDump = dump.file;
      await noteSafetyBackup(ctx.config.backupDir, dump.file, request.id);
      log.info({ file: dump.file, size: dump.size }, 'safety dump written');
    }

    progress('load', { bytesDone: 0, bytesTotal: size });
    if (signal?.aborted) throw new Error(`the database was not touched: ${(signal.reason as Error).message}`);
    await noteSqlRestoreState(work, { ...state, phase: 'load', safetyDump });
    try {
      const databaseDefaults = await dumpedDefaults(file);
      // From the drop on, the database is no longer what a run started before holds (stores/restored-at.ts).
      await noteRestored(ctx.redis, ctx.config.queuePrefix, `db:${db.database}`).catch(() => undefined);
      const r = await loadSqlFile(db, copy, { logger: log, onProgress: (p) => progress('load', p), databaseDefaults });
      // The same last phase as a volume restore's ("Aufräumen" on the main screen): the job and its
      // record ended at `load`, which read as if the load had not finished.
      progress('done');
      // A client that connected during the load may have written into the database it was loading.
      const during = await otherSessions(db, signal).catch(() => []);
      if (during.length) log.warn({ database: db.database, connections: describeSessions(during) }, 'clients connected to the database during the load');
      // An upload has served its purpose; a dump from the listing is a backup and stays.
      if (path.dirname(file) === uploadsDir(ctx.config.backupDir)) await fs.rm(file, { force: true });
      log.warn({ database: db.database, bytes: r.bytes }, 'database replaced from SQL file');
      const summary = {
        kind: 'sql' as const,
        database: db.database,
        bytes: r.bytes,
        safetyDump,
        durationMs: Date.now() - started,
        restartRequired: true as const,
        warnings: r.warnings,
        clientsDuringLoad: during.length ? describeSessions(during) : null,
        otherUsersUnchecked,
      };
      return { ...summary, message: sqlRestoreMessage(summary, existed, db.user) };
    } catch (err) {
      // Said so that a person knows the state and the way back (an audit found neither on the screen).
      const set = safetyDump ? parseArchiveName(safetyDump)?.stamp : undefined;
      const back = safetyDump
        ? ` The database may now be empty or hold only part of the file. The database before the restore is in ${safetyDump}` +
          (set ? ` (backup set ${set}): restore that set's dump.` : '; restore it.')
        : existed ? ' The database may now be empty or hold only part of the file; no safety dump was made (skipSafetyBackup).' : ' The database did not exist before the restore.';
      throw new Error(`loading the SQL file into ${db.database} failed: ${(err as Error).message.replace(/\.+$/, '')}.${back}`, { cause: err });
    }
  }
}

/**
 * What the MariaDB server says about itself and the database, asked with the `mariadb` client:
 * the longest statement it takes (max_allowed_packet), and the database's default character set
 * and collation, which a plain dump does not name (a dump's manifest keeps them, so that a restore
 * onto a new server recreates the database as it was, not with that server's defaults).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assertDbName, CLIENT_BIN, commandError, runClient, SAFE_CLIENT_ARGS } from './client.js';
import { clientArgs, withDefaultsFile, type DbSettings } from './option-file.js';

export interface DatabaseDefaults {
  charset: string;
  collation: string;
}

/** A character set's or collation's name as information_schema gives them (`utf8mb4_unicode_520_ci`). */
export const CHARSET_NAME = /^[a-z0-9_]{1,64}$/;

/** The rows of one query, tab-separated columns, no header. */
async function query(db: DbSettings, sql: string, what: string, signal?: AbortSignal): Promise<string[][]> {
  return withDefaultsFile(db, async (defaultsFile) => {
    const run = runClient(CLIENT_BIN, clientArgs(defaultsFile, ['--batch', '--skip-column-names', ...SAFE_CLIENT_ARGS, '-e', sql]), ['ignore', 'pipe', 'pipe'], signal);
    let out = '';
    run.child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exit = await run.done;
    if (exit.code !== 0) throw commandError(CLIENT_BIN, exit, `asking the server for ${what} failed`);
    return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
  });
}

/** The server's max_allowed_packet: the longest statement it takes (the load's client asks for more, the server's limit wins). */
export async function serverPacketLimit(db: DbSettings, signal?: AbortSignal): Promise<number> {
  const [[value] = []] = await query(db, 'SELECT @@GLOBAL.max_allowed_packet', 'its max_allowed_packet', signal);
  const limit = Number(value);
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`the server answered ${JSON.stringify(value)} for its max_allowed_packet`);
  return limit;
}

/** The database's default character set and collation; undefined when it does not exist. */
export async function databaseDefaults(db: DbSettings, signal?: AbortSignal): Promise<DatabaseDefaults | undefined> {
  assertDbName(db.database); // validated: it is put into the SQL
  const rows = await query(db, `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${db.database}'`, 'the database\'s character set', signal);
  const [charset, collation] = rows[0] ?? [];
  if (!charset || !collation || !CHARSET_NAME.test(charset) || !CHARSET_NAME.test(collation)) return undefined;
  return { charset, collation };
}

/** Whether the database exists on the server (a new server's may not, before its first restore). */
export async function databaseExists(db: DbSettings, signal?: AbortSignal): Promise<boolean> {
  assertDbName(db.database); // validated: it is put into the SQL
  const rows = await query(db, `SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${db.database}'`, 'whether the database exists', signal);
  return rows.length > 0;
}

/** Who the clients are on the server, and whether they may create objects owned by another user. */
export interface DefinerRights {
  /** CURRENT_USER(): `user@host` as the server matched the login. */
  user: string;
  /** Whether it holds SUPER or SET USER (needed to create a view, trigger, routine or event with another DEFINER). */
  mayDefineForOthers: boolean;
  /** Roles are enabled: their privileges are not listed here, so whether it may cannot be told. */
  roles: boolean;
}

/** The grantee of CURRENT_USER() as information_schema writes it: 'user'@'host'. */
const GRANTEE = "CONCAT('''', SUBSTRING(CURRENT_USER(), 1, CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";

/** See DefinerRights. information_schema.USER_PRIVILEGES lists a user's own global privileges. */
export async function definerRights(db: DbSettings, signal?: AbortSignal): Promise<DefinerRights> {
  const rows = await query(
    db,
    `SELECT CURRENT_USER(), (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${GRANTEE} AND PRIVILEGE_TYPE IN ('SUPER', 'SET USER')), ` +
      '(SELECT COUNT(*) FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT NULL)',
    'its privileges',
    signal,
  );
  const [user = '', privileges = '0', roles = '0'] = rows[0] ?? [];
  return { user, mayDefineForOthers: Number(privileges) > 0, roles: Number(roles) > 0 };
}

/**
 * Whether the process list shows DB_USER other users' connections: only with the PROCESS (or
 * SUPER) privilege; without it a client of another MariaDB user (Elexis connecting as its own
 * user) is invisible, and the restore's check for other clients cannot see it. `unknown` with roles
 * enabled (their privileges are not listed here).
 */
export async function sessionVisibility(db: DbSettings, signal?: AbortSignal): Promise<'all' | 'own' | 'unknown'> {
  const rows = await query(
    db,
    `SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${GRANTEE} AND PRIVILEGE_TYPE IN ('SUPER', 'PROCESS')), ` +
      '(SELECT COUNT(*) FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT NULL)',
    'its privileges',
    signal,
  );
  const [privileges = '0', roles = '0'] = rows[0] ?? [];
  return Number(privileges) > 0 ? 'all' : Number(roles) > 0 ? 'unknown' : 'own';
}

/** Whether definer `a` and user `b` (both `user@host`) are one account (host names are not case-sensitive). */
export function sameAccount(a: string, b: string): boolean {
  const at = (s: string) => s.lastIndexOf('@');
  return a.slice(0, at(a)) === b.slice(0, at(b)) && a.slice(at(a) + 1).toLowerCase() === b.slice(at(b) + 1).toLowerCase();
}

/** A connection to the server, as its process list shows it. */
export interface Session {
  id: string;
  user: string;
  host: string;
  command: string;
  seconds: number;
  /** Its default database; null: none, so it reaches every database by naming it (`elexis.patient`). */
  database: string | null;
}

/** The server's own threads, and a client still logging in: none of them is a client of the database. */
const NOT_CLIENTS =
  "USER NOT IN ('system user', 'event_scheduler', 'unauthenticated user') AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Killed')";

/** How long a connection without a default database must stay to count: a health check or a one-off command comes and goes within it. */
export const LASTING_MS = 1000;

/**
 * The other connections that can write into the database (ours excluded): Elexis, Webelexis or a
 * tool still running. A restore drops and reloads the database under them. Those whose default
 * database it is, and those without a default database that are still there LASTING_MS later: such
 * a client writes into any database by naming it (found by an audit: a client writing
 * `INSERT INTO elexis.t` every 20 ms left its rows in the restored data unseen), while a health
 * check (`mariadb-admin ping`) or a one-off command without one is gone by then. A client whose
 * default database is another one and names ours is not seen (README, "What the load keeps and
 * refuses"). Without the PROCESS privilege the server shows DB_USER's own connections only.
 */
export async function otherSessions(db: DbSettings, signal?: AbortSignal, lastingMs = LASTING_MS): Promise<Session[]> {
  assertDbName(db.database); // validated: it is put into the SQL
  const list = async () =>
    (
      await query(
        db,
        `SELECT ID, USER, HOST, COMMAND, TIME, DB FROM information_schema.PROCESSLIST WHERE (DB = '${db.database}' OR DB IS NULL) AND ID <> CONNECTION_ID() AND ${NOT_CLIENTS} ORDER BY ID`,
        'the connections that can use the database',
        signal,
      )
    ).map(([id = '', user = '', host = '', command = '', time = '0', database = 'NULL']) => ({ id, user, host, command, seconds: Number(time), database: database === 'NULL' ? null : database }));
  const first = await list();
  if (!first.some((s) => s.database === null)) return first;
  await sleep(lastingMs, undefined, { signal });
  const still = new Set((await list()).map((s) => s.id));
  return first.filter((s) => s.database !== null || still.has(s.id));
}

/**
 * Foreign keys of other databases that reference this one's tables (`other.child` → `elexis.m`):
 * `DROP DATABASE` stops at the first table they protect, after it dropped the tables before it
 * (found by an audit: two of three tables and their rows were gone, the restore failed).
 * As `schema.table (constraint)`.
 */
export async function foreignReferences(db: DbSettings, signal?: AbortSignal): Promise<string[]> {
  assertDbName(db.database); // validated: it is put into the SQL
  const rows = await query(
    db,
    `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = '${db.database}' AND CONSTRAINT_SCHEMA <> '${db.database}' ORDER BY 1, 2, 3`,
    'the foreign keys of other databases that reference it',
    signal,
  );
  return rows.map(([schema = '', table = '', name = '', referenced = '']) => `${schema}.${table} (${name}, to ${referenced})`);
}

/** Connections as a person reads them: `elexis@10.0.0.5:51234 (connection 12, Sleep for 40 s)`. */
export function describeSessions(sessions: readonly Session[], max = 5): string {
  const shown = sessions.slice(0, max).map((s) => `${s.user}@${s.host} (connection ${s.id}, ${s.command} for ${s.seconds} s${s.database === null ? ', no default database' : ''})`);
  return shown.join(', ') + (sessions.length > max ? `, and ${sessions.length - max} more` : '');
}

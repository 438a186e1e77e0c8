/**
 * What a completed SQL restore reports (GET /api/restores/:id `summary`, the job's return value) and
 * the sentence the API gives with it. The main screen shows the same cautions from the fields
 * (ui/restore-progress.tsx): values MariaDB changed, clients connected at the end of the load, and
 * clients of other MariaDB users that could not be checked at all.
 */
export interface SqlRestoreSummary {
  kind: 'sql';
  database: string;
  bytes: number;
  safetyDump: string | null;
  durationMs: number;
  restartRequired: true;
  /** Values MariaDB changed while loading (cut, clamped, replaced: warnings in the dump's lenient sql_mode); the first few messages. */
  warnings: { count: number; messages: string[] };
  /** Other connections using the database when the load ended (db/server-facts.ts describeSessions); null: none seen. */
  clientsDuringLoad: string | null;
  /**
   * DB_USER lacks the PROCESS privilege, so MariaDB showed it only its own connections: a client of
   * another MariaDB user (Elexis connecting as its own user) could be neither refused before the
   * restore nor seen after it.
   */
  otherUsersUnchecked: boolean;
  message: string;
}

export function sqlRestoreMessage(s: Omit<SqlRestoreSummary, 'message'>, existed: boolean, user: string): string {
  return (
    `Database ${s.database} was ${existed ? 'loaded' : 'created and loaded'} from the SQL file. Restart Elexis now.` +
    (s.warnings.count > 0 ? ` MariaDB changed ${s.warnings.count} value(s) while loading, so the database differs from the file there (first: ${s.warnings.messages[0]}).` : '') +
    (s.clientsDuringLoad ? ` Warning: other connections used the database at the end of the load (${s.clientsDuringLoad}): what they wrote may be in it; check it before Elexis works on.` : '') +
    (s.otherUsersUnchecked
      ? ` Note: DB_USER ${user} lacks the PROCESS privilege, so MariaDB showed it only its own connections; clients of other MariaDB users could not be checked before or after the load: make sure they were stopped (GRANT PROCESS ON *.* TO the user lets the restore see them).`
      : '') +
    (s.safetyDump ? ` The database before the restore is in ${s.safetyDump}.` : '')
  );
}

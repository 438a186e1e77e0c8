/**
 * The private copies a SQL restore checks and loads (../db/sql-check.ts): one directory per restore
 * in BACKUP_DIR, `.sql-restore-XXXXXX` (a dot name: the listing, prune and uploads never match it).
 * A restore removes its own when it ends; one whose worker died leaves a copy as large as the dump,
 * which the next SQL restore or the maintenance's recovery (./recovery.ts) removes, both under the
 * restore hold, so that no running restore's copy is touched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import { writeFileAtomic } from '../engine/fs/atomic.js';
import { RestoreRequests } from '../stores/restore-requests.js';

export const SQL_WORK_PREFIX = '.sql-restore-';

/** The private copy directories in `backupDir` (full paths). */
export async function sqlRestoreCopies(backupDir: string): Promise<string[]> {
  const names = await fs.readdir(backupDir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(SQL_WORK_PREFIX)).map((n) => path.join(backupDir, n));
}

/** What a SQL restore notes in its private directory, for the recovery should its worker die. */
export interface SqlRestoreState {
  id: string;
  database: string;
  /** 'load': the database was dropped and the load began; before it, nothing was changed. */
  phase: 'check' | 'load';
  safetyDump: string | null;
}

const STATE_FILE = 'restore.json';

export async function noteSqlRestoreState(dir: string, state: SqlRestoreState): Promise<void> {
  await writeFileAtomic(path.join(dir, STATE_FILE), `${JSON.stringify(state)}\n`, 0o600);
}

/**
 * The private directories of SQL restores whose worker died, removed, and each one's outcome
 * recorded beside its request: a load cut off leaves the database with part of the file, which the
 * request must say (found by a kill -9 audit: it said only "job stalled more than allowable
 * limit"), with where the database before it is. The caller holds the restore hold. Returns the
 * dead restores' ids (the recovery queues their safety dumps for verification).
 */
export async function settleDeadSqlRestores(ctx: AppContext, log: Logger): Promise<string[]> {
  const ids: string[] = [];
  for (const dir of await sqlRestoreCopies(ctx.config.backupDir)) {
    const state = await fs
      .readFile(path.join(dir, STATE_FILE), 'utf8')
      .then((t) => JSON.parse(t) as SqlRestoreState)
      .catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
    log.warn({ dir, restoreId: state?.id, phase: state?.phase }, 'removed the private copy of a SQL file left by an interrupted SQL restore');
    if (!state || typeof state.id !== 'string' || !RestoreRequests.isValidId(state.id)) continue;
    const what =
      state.phase === 'load'
        ? `database ${state.database}: the load of the SQL file was cut off, so the database may hold only part of it; restore again` +
          (state.safetyDump ? ` (the database before the restore is in ${state.safetyDump})` : ' (no safety dump was made)')
        : `database ${state.database}: before the database was changed`;
    await ctx.restores.noteInterrupted(state.id, what);
    ids.push(state.id);
  }
  return ids;
}

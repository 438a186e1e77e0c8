/**
 * The private copies a SQL restore checks and loads (../db/sql-check.ts): one directory per restore
 * in BACKUP_DIR, `.sql-restore-XXXXXX` (a dot name: the listing, prune and uploads never match it).
 * A restore removes its own when it ends; one whose worker died leaves a copy as large as the dump,
 * which the next SQL restore or the maintenance's recovery (./recovery.ts) removes, both under the
 * restore hold, so that no running restore's copy is touched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export const SQL_WORK_PREFIX = '.sql-restore-';

/** The private copy directories in `backupDir` (full paths). */
export async function sqlRestoreCopies(backupDir: string): Promise<string[]> {
  const names = await fs.readdir(backupDir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(SQL_WORK_PREFIX)).map((n) => path.join(backupDir, n));
}

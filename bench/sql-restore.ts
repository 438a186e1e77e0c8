/**
 * The SQL restore's check and load of one file, as the restore job runs them, for BENCHMARKS.md:
 * `node --import tsx bench/sql-restore.ts <file> <database> copy|direct`. `copy`: the check writes
 * the private copy and the load reads it (this version); `direct`: the check reads the file and the
 * load reads it again (before). Prints wall times and this process's peak RSS (the mariadb client
 * is a process of its own, the same either way). Root on 127.0.0.1:3306 without a password.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { checkSqlFile, loadSqlFile } from '../src/db/load.js';

const [file, database, mode] = process.argv.slice(2);
if (!file || !database || (mode !== 'copy' && mode !== 'direct')) throw new Error('usage: sql-restore.ts <file> <database> copy|direct');
const logger = pino({ level: 'warn' });
const db = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database } as Parameters<typeof loadSqlFile>[0];
const work = await fs.mkdtemp(path.join(path.dirname(file), '.sql-restore-'));
const copy = path.join(work, 'checked.sql');
try {
  const t0 = Date.now();
  const checked = await checkSqlFile(file, database, { logger, ...(mode === 'copy' ? { copyTo: copy } : {}) } as Parameters<typeof checkSqlFile>[2]);
  if (!checked.ok) throw new Error(checked.reason);
  const t1 = Date.now();
  await loadSqlFile(db, mode === 'copy' ? copy : file, { logger });
  const t2 = Date.now();
  const rssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(JSON.stringify({ mode, bytes: checked.bytes, gzip: checked.gzip, checkMs: t1 - t0, loadMs: t2 - t1, totalMs: t2 - t0, peakRssMiB: rssMiB, cpus: os.cpus().length }));
} finally {
  await fs.rm(work, { recursive: true, force: true });
}

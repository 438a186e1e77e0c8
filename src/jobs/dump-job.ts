/**
 * The logical dump of the Elexis database that every run makes when DB_HOST is set: a file copy of
 * a running database can be inconsistent, `mariadb-dump --single-transaction` is not. It goes into
 * the set as `<DB_DUMP_NAME>_<stamp>.sql.gz` with the same sidecar, verify step and retention.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { dumpFileName } from '../core/names.js';
import { dumpDatabase, type DumpResult } from '../db/dump.js';
import { addManifestNotes, noteCatchUp } from '../engine/manifest-notes.js';
import { definerRights, sameAccount, serverPacketLimit } from '../db/server-facts.js';
import type { DbSettings } from '../db/option-file.js';
import { formatBytes } from '../engine/fs/free-space.js';
import type { DumpJobData } from '../stores/queues.js';
import { lastRestored } from '../stores/restored-at.js';
import { dbSettings } from './restore-sql.js';
import { checkRunJobData } from './job-data.js';
import { checkRunClaim } from './run-claim-check.js';

const LOCK_RETRY_MS = 5000;

export function makeDumpProcessor(ctx: AppContext) {
  return async (job: Job<DumpJobData>, token?: string): Promise<DumpResult | { file: string; completedEarlier: true }> => {
    checkRunJobData(job.data, job); // names files: not trusted (job-data.ts)
    const { volume, stamp } = job.data;
    const db = dbSettings(ctx);
    // A dump under a volume's name would make that set's volume restore load the database instead.
    if (volume !== ctx.config.db?.dumpName) {
      throw new UnrecoverableError(`job data refused, nothing was done: ${JSON.stringify(volume)} is not the dump's name (DB_DUMP_NAME is ${JSON.stringify(ctx.config.db?.dumpName)})`);
    }
    await checkRunClaim(ctx, stamp); // only for a started run, around its minute (run-claim-check.ts)
    const log = ctx.logger.child({ module: 'dump', volume, stamp, jobId: job.id });
    // The db lock keeps a dump off a database that a SQL restore is replacing right now.
    // One owner per attempt, as for archives: a retry never writes beside a cut-off earlier attempt.
    const lock = await ctx.dbLocks.acquire(db.database, `${job.id}@${token ?? 'no-token'}`);
    if (!lock) {
      await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      const fileName = dumpFileName(volume, stamp);
      const full = path.join(ctx.config.backupDir, fileName);
      if ((await fs.stat(full).catch(() => undefined)) && (await fs.stat(`${full}.sha256`).catch(() => undefined))) {
        log.info({ file: fileName }, 'dump was completed by an earlier attempt');
        await noteCatchUp(ctx.config.backupDir, fileName, job.data.catchUpFor);
        return { file: fileName, completedEarlier: true };
      }
      // A SQL restore replaced the database after this run started (this job waited for its lock):
      // the dump would hold the restored data under the minute before it (stores/restored-at.ts).
      const restored = await lastRestored(ctx.redis, ctx.config.queuePrefix, `db:${db.database}`);
      if (restored !== undefined && restored > job.timestamp) {
        throw new UnrecoverableError(
          `database ${db.database} was restored at ${new Date(restored).toISOString()}, after this run was started (${new Date(job.timestamp).toISOString()}): ` +
            `its dump would hold the restored data under ${stamp}; nothing was dumped (the next run dumps it)`,
        );
      }
      log.info({ database: db.database, file: fileName }, 'dump started');
      const r = await dumpDatabase(db, {
        dir: ctx.config.backupDir,
        fileName,
        gzipLevel: ctx.config.gzipLevel,
        logger: log,
        onProgress: (p) => void job.updateProgress(p).catch(() => undefined),
      });
      await noteCatchUp(ctx.config.backupDir, fileName, job.data.catchUpFor);
      const warnings = [await tooLongForServer(db, r, log), await ownedByOthers(db, r, log)].filter((w) => w !== undefined);
      if (warnings.length > 0) await addManifestNotes(ctx.config.backupDir, r.file, { warnings: warnings.length, warningMessages: warnings });
      log.info({ file: r.file, size: r.size, durationMs: r.durationMs }, 'dump finished');
      return r;
    } finally {
      await lock.release();
    }
  };
}

/**
 * A dump is complete whatever its statements' length; but a restore of one with a statement longer
 * than the server's max_allowed_packet is refused until that is raised (restore-sql.ts). Said now,
 * as the dump's warning in the listing and the log, not first on the day of the restore.
 */
async function tooLongForServer(db: DbSettings, r: DumpResult, log: AppContext['logger']): Promise<string | undefined> {
  const limit = await serverPacketLimit(db).catch((err: Error) => {
    log.warn({ err: err.message }, 'could not ask MariaDB for its max_allowed_packet');
    return undefined;
  });
  if (limit === undefined || r.longestStatement <= limit) return undefined;
  const message =
    `its longest statement is ${formatBytes(r.longestStatement)} (a row with a large document), the MariaDB server takes ${formatBytes(limit)} ` +
    '(max_allowed_packet): a restore of this dump will ask to raise it first; raise it now on the server (see README, "What the load keeps and refuses")';
  log.warn({ file: r.file, longestStatement: r.longestStatement, maxAllowedPacket: limit }, message);
  return message;
}

/**
 * A restore of a dump whose views, triggers, routines or events belong to other MariaDB users than
 * DB_USER needs the SET USER privilege (restore-sql.ts refuses it before anything changes): said
 * now, as the dump's warning, not first on the day of the restore.
 */
async function ownedByOthers(db: DbSettings, r: DumpResult, log: AppContext['logger']): Promise<string | undefined> {
  if (r.definers.length === 0) return undefined;
  const rights = await definerRights(db).catch((err: Error) => void log.warn({ err: err.message }, `could not ask MariaDB for the privileges of ${db.user}`));
  if (!rights || rights.mayDefineForOthers || rights.roles) return undefined;
  const others = r.definers.filter((d) => !sameAccount(d, rights.user));
  if (others.length === 0) return undefined;
  const message =
    `it holds views, triggers, routines or events owned by other MariaDB users (DEFINER ${others.slice(0, 5).join(', ')}${others.length > 5 ? ' …' : ''}), ` +
    `and DB_USER ${rights.user} lacks the SET USER privilege to create them: a restore of this dump will be refused until it is granted ` +
    '(see README, "What the load keeps and refuses")';
  log.warn({ file: r.file, definers: others, user: rights.user }, message);
  return message;
}

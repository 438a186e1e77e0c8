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
import { noteCatchUp } from '../engine/manifest-notes.js';
import type { DumpJobData } from '../stores/queues.js';
import { dbSettings } from './restore-sql.js';
import { checkRunJobData } from './job-data.js';
import { checkRunClaim } from './run-claim-check.js';

const LOCK_RETRY_MS = 5000;

export function makeDumpProcessor(ctx: AppContext) {
  return async (job: Job<DumpJobData>, token?: string): Promise<DumpResult | { file: string; completedEarlier: true }> => {
    checkRunJobData(job.data); // names files: not trusted (job-data.ts)
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
      log.info({ database: db.database, file: fileName }, 'dump started');
      const r = await dumpDatabase(db, {
        dir: ctx.config.backupDir,
        fileName,
        gzipLevel: ctx.config.gzipLevel,
        logger: log,
        onProgress: (p) => void job.updateProgress(p).catch(() => undefined),
      });
      await noteCatchUp(ctx.config.backupDir, fileName, job.data.catchUpFor);
      log.info({ file: r.file, size: r.size, durationMs: r.durationMs }, 'dump finished');
      return r;
    } finally {
      await lock.release();
    }
  };
}

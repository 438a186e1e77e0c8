/**
 * The verify job: runs after each archive (as the prune's child, so a bad new archive never lets an
 * old good one be deleted), on the verify schedule, and on request. A failed verification fails the
 * job — and with it the prune — and is recorded in `<file>.verify.json` for the listing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import type { VerifyJobData } from '../stores/queues.js';
import { queueCopies } from '../stores/copy-jobs.js';
import { checkSizeDrop } from './size-drop.js';
import { parseArchiveName, runArchiveNames } from '../core/names.js';
import { checkCopies } from './copy-check.js';
import { verifyBackup, type VerifyOutcome } from './verify-backup.js';
import { ARCHIVES_FIRST_POLL_MS, waitForArchives } from './archives-first.js';
import { checkRunJobData } from './job-data.js';

export function makeVerifyProcessor(ctx: AppContext) {
  return async (job: Job<VerifyJobData>, token?: string): Promise<VerifyOutcome> => {
    checkRunJobData(job.data, job); // names files: not trusted (job-data.ts)
    const { volume, stamp, kind } = job.data;
    if (await waitForArchives(ctx, job)) {
      await job.moveToDelayed(Date.now() + ARCHIVES_FIRST_POLL_MS, token);
      throw new DelayedError();
    }
    // The flow names the full's file; in incremental mode the archive job may have written the
    // run's `.inc.tar.gz` instead (it decides the level when it runs).
    const file = kind === 'volume' ? await runArchiveFile(ctx.config.backupDir, volume, stamp, job.data.file) : job.data.file;
    const log = ctx.logger.child({ module: 'verify', volume, stamp, file, jobId: job.id });
    const full = path.join(ctx.config.backupDir, file);
    if (!(await fs.stat(full).catch(() => undefined))) throw new Error(`${file} does not exist (pruned or moved away?)`);
    log.info({ attempt: job.attemptsMade + 1 }, 'verify started');
    if (job.parent && job.attemptsMade === 0 && ctx.config.testHooks.corruptBeforeVerify === volume) await flipMiddleByte(full);
    const sidecar = await fs.readFile(`${full}.sha256`, 'utf8').catch(() => '');
    const sha256 = /^([0-9a-f]{64})\s/.exec(sidecar)?.[1] ?? null;
    const outcome = await verifyBackup({
      backupDir: ctx.config.backupDir,
      archive: { volume, stamp, file, kind, incremental: parseArchiveName(file)?.incremental ?? false },
      sha256,
      testExtract: ctx.config.verifyExtract,
      restoreThreads: ctx.config.restoreThreads,
      logger: log,
      onProgress: (p) => void job.updateProgress(p).catch(() => undefined),
    });
    // Outside a run, an archive pruned by a newer run while it was read is no failure (no alert).
    if (outcome.gone && !job.parent) return outcome;
    if (outcome.gone) throw new Error(`${file} was removed while it was verified: ${outcome.error}`);
    if (!outcome.ok) throw new Error(`${file} failed verification: ${outcome.error}`);
    // Outside a run (verify schedule, "verify now"): its copies on the targets are checked too.
    if (!job.parent) await checkCopies(ctx, file, log);
    if (job.parent) await checkSizeDrop(ctx, { volume, stamp, file }, log);
    // Off-site copies of this run's archive, now that it reads back; they run beside the prune.
    const offsite = ctx.config.offsite;
    if (job.parent && offsite) {
      await ctx.copies.expect(file, offsite.targets);
      const ids = await queueCopies(ctx.queues, { volume, stamp, file, kind }, { targets: offsite.targets, attempts: offsite.copyAttempts, retryDelayMs: offsite.retryDelayMs });
      log.info({ copyJobs: ids }, 'off-site copies queued');
    }
    return outcome;
  };
}

/** Which of the run's two possible archive names exists (the full's when neither does: the caller reports it missing). */
export async function runArchiveFile(backupDir: string, volume: string, stamp: string, named: string): Promise<string> {
  if (await fs.stat(path.join(backupDir, named)).catch(() => undefined)) return named;
  for (const n of runArchiveNames(volume, stamp)) if (await fs.stat(path.join(backupDir, n)).catch(() => undefined)) return n;
  return named;
}

/** Test hook (NODE_ENV=test only): simulates an archive that was damaged after it was written. */
async function flipMiddleByte(file: string): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, Math.floor(size / 2));
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, Math.floor(size / 2));
  } finally {
    await fh.close();
  }
}

/**
 * The restore job: runs only after a confirmation, only once, one at a time (its queue has
 * concurrency 1). Whatever started the job — the confirm endpoint, a dashboard retry or "add", a
 * second worker, a stalled re-run — this processor decides whether it may run:
 *
 *   1. check, without consuming anything, that the request's confirmation queued exactly this job
 *      and was not used yet; otherwise fail at once (UnrecoverableError), touching nothing;
 *   2. take the restore hold (scheduled runs wait) and the locks of everything it replaces (no
 *      archive, dump or prune of those can run meanwhile). When one is busy, release all and wait
 *      in the delayed set: the confirmation is still unused, so the delayed job runs later;
 *   3. consume the confirmation (one Redis script, SET NX under the hood): only now, holding every
 *      lock, is the restore committed to run. A second claimant fails here and touches nothing;
 *   4. restore, and store the outcome and summary beside the request, so GET /api/restores/:id
 *      keeps them when the job itself is cleaned away.
 *
 * Lock owners are per attempt (`<job id>@<BullMQ token>`): a stalled re-run could never share the
 * first attempt's locks. And a stalled restore is not re-run at all (maxStalledCount 0 for this
 * queue, see ./index.ts): it fails, and the recovery (./recovery.ts) rolls its swap back or forward.
 */
import fs from 'node:fs/promises';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { decryptText } from '../engine/offsite/age.js';
import { parseArchiveName } from '../core/names.js';
import { RESTORE_HOLD, type RestoreJobData } from '../stores/queues.js';
import { RestoreRequests, type RunRefusal } from '../stores/restore-requests.js';
import type { HeldLock } from '../stores/volume-lock.js';
import { enqueueSetVerification } from '../stores/verify-runs.js';
import { settleFetched, type FromTarget } from './restore-fetch.js';
import { restoreFiles, type FilesRestoreSummary } from './restore-files.js';
import { restoreSet, type SetRestoreSummary } from './restore-set.js';
import { restoreSql, type SqlRestoreSummary } from './restore-sql.js';

const LOCK_RETRY_MS = 5000;

/** This worker's own age key pair: the private half opens identities sealed for it (stores/identity-channel.ts). */
export interface WorkerKey {
  identity: string;
}

export function makeRestoreProcessor(ctx: AppContext, workerKey?: WorkerKey) {
  return async (job: Job<RestoreJobData>, token?: string): Promise<SetRestoreSummary | SqlRestoreSummary | FilesRestoreSummary> => {
    const id = job.data?.restoreId;
    const jobId = String(job.id);
    if (typeof id !== 'string' || !RestoreRequests.isValidId(id)) {
      throw new UnrecoverableError(`job ${jobId} names no restore request (restoreId ${JSON.stringify(id)}); nothing was done`);
    }
    const log = ctx.logger.child({ module: 'restore', restoreId: id, jobId });

    const before = await ctx.restores.checkRun(id, jobId);
    if (before !== 'ok') throw await refusal(ctx, id, jobId, before, log);
    const request = await ctx.restores.get(id);
    if (!request) throw await refusal(ctx, id, jobId, 'not_found', log);
    const rlog = log.child({ kind: request.kind, stamp: request.stamp });

    const owner = `${jobId}@${token ?? 'no-token'}`;
    const held: HeldLock[] = [];
    const releaseAll = () => Promise.all(held.map((l) => l.release()));
    const take = async (lock: Promise<HeldLock | undefined>) => {
      const l = await lock;
      if (l) held.push(l);
      return l !== undefined;
    };
    // The hold first, so no new run starts while we wait for running archives to let go.
    let all = await take(ctx.restoreHold.acquire(RESTORE_HOLD, owner));
    for (const v of request.kind === 'set' || request.kind === 'files' ? request.volumes : []) all = all && (await take(ctx.locks.acquire(v, owner)));
    if (request.kind === 'sql') all = all && (await take(ctx.dbLocks.acquire(ctx.config.db?.database ?? 'db', owner)));
    if (!all) {
      await releaseAll();
      rlog.info('waiting for running backups of these volumes to finish');
      await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
      throw new DelayedError();
    }

    const claim = await ctx.restores.claimRun(id, jobId).catch(async (err: Error) => {
      await releaseAll();
      throw err;
    });
    if (claim !== 'ok') {
      await releaseAll();
      throw await refusal(ctx, id, jobId, claim, log);
    }
    let summary: SetRestoreSummary | SqlRestoreSummary | FilesRestoreSummary;
    const fromTarget: FromTarget = { identity: () => ageIdentity(ctx, id, workerKey), fetched: [], verified: new Map() };
    try {
      rlog.warn({ volumes: request.volumes }, 'restore started');
      // Stop before touching live data if a lock was lost: someone else may hold it now. The
      // renewals may not have noticed yet when the work was quick: asked again right before the swap.
      const lost = AbortSignal.any(held.map((l) => l.signal));
      const confirmLocks = async () => void (await Promise.all(held.map((l) => l.confirm())));
      summary =
        request.kind === 'set'
          ? await restoreSet(ctx, job, request, rlog, lost, fromTarget, confirmLocks)
          : request.kind === 'files'
            ? await restoreFiles(ctx, job, request, rlog, lost, confirmLocks)
            : await restoreSql(ctx, job, request, rlog, lost, fromTarget);
    } catch (err) {
      await settleFetched(ctx, fromTarget, true, rlog, request.from ?? undefined, id);
      const reason = (err as Error).message;
      await ctx.restores.recordOutcome(id, { state: 'failed', summary: null, failedReason: reason }).catch((e: Error) =>
        rlog.error({ err: e.message }, 'could not record the failed restore beside its request'),
      );
      rlog.error({ err: reason }, 'restore failed');
      throw err;
    } finally {
      // The identity given with the confirmation is for this job only, also when no archive needed it.
      await ctx.identities.takeSealed(id).catch(() => undefined);
      await releaseAll();
    }
    await settleFetched(ctx, fromTarget, false, rlog, request.from ?? undefined, id);
    // The restore is done whether or not Redis takes the note; the job's return value has it too.
    await ctx.restores.recordOutcome(id, { state: 'completed', summary, failedReason: null }).catch((e: Error) =>
      rlog.error({ err: e.message }, 'could not record the completed restore beside its request'),
    );
    rlog.warn({ durationMs: summary.durationMs }, summary.message);
    const safety = summary.kind === 'sql' ? (summary.safetyDump ? parseArchiveName(summary.safetyDump)?.stamp : undefined) : summary.safetyBackupStamp;
    await verifySafetyBackup(ctx, safety ?? null, rlog);
    return summary;
  };
}

/**
 * The safety backup is the only copy of the data from before the restore: it is read back like
 * every archive of a run (a verify job each, so the restore's own result does not wait for it and
 * the listing shows `verified`). A failure to queue is logged; the restore is done either way.
 */
async function verifySafetyBackup(ctx: AppContext, stamp: string | null, log: AppContext['logger']): Promise<void> {
  if (!stamp) return;
  try {
    const set = await ctx.store.getSet(stamp);
    if (!set) throw new Error(`backup set ${stamp} is not listed`);
    const jobs = await enqueueSetVerification(ctx.queues, set);
    log.info({ stamp, verifyJobs: jobs.map((j) => j.jobId) }, 'safety backup queued for verification');
  } catch (err) {
    log.error({ stamp, err: (err as Error).message }, 'could not queue the verification of the safety backup');
  }
}

/**
 * The age identity for encrypted off-site copies, kept in memory for this job only: the one given
 * with the confirmation (sealed for this worker), else OFFSITE_AGE_IDENTITY_FILE.
 */
async function ageIdentity(ctx: AppContext, restoreId: string, workerKey: WorkerKey | undefined): Promise<string | undefined> {
  const sealed = await ctx.identities.takeSealed(restoreId);
  if (sealed !== undefined) {
    if (!workerKey) throw new Error('this process cannot open the age identity given with the confirmation');
    return decryptText(sealed, workerKey.identity).catch(() => {
      throw new Error('the age identity given with the confirmation was sealed for the workers running then, and this worker started later: request the restore again and confirm it with the identity');
    });
  }
  const file = ctx.config.offsite?.identityFile;
  if (!file) return undefined;
  return fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`OFFSITE_AGE_IDENTITY_FILE cannot be read (${err.code ?? err.message})`);
  });
}

/** The error a refused job fails with: says why, and that nothing was touched. Not retried. */
async function refusal(ctx: AppContext, id: string, jobId: string, why: RunRefusal, log: AppContext['logger']): Promise<UnrecoverableError> {
  const request = why === 'not_found' ? undefined : await ctx.restores.get(id);
  const reasons: Record<RunRefusal, string> = {
    not_found: `restore request ${id} does not exist (never made, or expired from Redis)`,
    not_confirmed: `restore request ${id} was never confirmed; a restore runs only as the job that POST /api/restores/${id}/confirm queues`,
    other_job: `job ${jobId} is a copy: the confirmation of restore request ${id} queued job ${request?.jobId ?? '?'}, and only that job may run it`,
    used: `restore request ${id} was run already (job ${request?.started?.jobId ?? '?'}, started ${request?.started?.at ?? '?'}); a restore runs once — request a new restore and confirm it`,
  };
  const message = `${reasons[why]}; nothing was done`;
  log.error({ refused: why }, `restore refused: ${message}`);
  return new UnrecoverableError(message);
}

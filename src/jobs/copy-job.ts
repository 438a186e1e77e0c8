/**
 * The copy job: one verified archive (or dump) to one off-site target, queued by the verify job of
 * the run (./verify-job.ts), so a copy starts only once the archive reads back, and never holds up
 * the prune or the next backup. It streams the archive (encrypted to OFFSITE_AGE_RECIPIENTS) with
 * rclone, verifies the object on the target, then records the copy (stores/offsite-copies.ts). A
 * failure is retried with backoff (OFFSITE_COPY_ATTEMPTS); the last one raises `offsite.failed`.
 * Until the copy is recorded, prune keeps the local archive.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { copyArchive } from '../engine/offsite/copy-archive.js';
import type { CopyJobData } from '../stores/queues.js';
import type { CopyRecord } from '../stores/offsite-copies.js';
import { rcloneOptions } from '../runtime/offsite-rclone.js';
import { applyRemoteRetention } from '../engine/offsite/remote-retention.js';
import { backendHashes } from '../engine/offsite/rclone.js';
import { describePolicy } from '../core/retention-policy.js';
import { checkRunJobData } from './job-data.js';
import { findCopy, type FoundCopy } from '../engine/offsite/find-copy.js';

/** Progress is written to Redis at most this often. */
const PROGRESS_EVERY_MS = 2000;

export interface CopyOutcome {
  record: CopyRecord;
  /** Already on the target (a retry or second run of this job found its record). */
  copiedEarlier?: true;
  /** Found complete on the target and checked against the archive; nothing was uploaded. */
  found?: true;
}

/**
 * At a worker's start, warns when copies are plain, and asks each target which hashes it computes
 * (a copy needs to know before its first byte, and asks only once per process): the first copy
 * does not wait for it, and a target that does not answer is in the log from the start, not only
 * at the first night's copy.
 */
export function probeTargets(ctx: AppContext): void {
  const offsite = ctx.config.offsite;
  if (!offsite) return;
  const log = ctx.logger.child({ module: 'copy' });
  // Unset and empty alike mean plain copies: said once at every start, not only in README.
  if (offsite.recipients.length === 0) {
    log.warn({ targets: offsite.targets }, 'off-site copies are NOT encrypted (OFFSITE_AGE_RECIPIENTS is unset or empty): whoever can read a target can read the patient data');
  }
  for (const target of offsite.targets) {
    void rcloneOptions(offsite)
      .then((rclone) => backendHashes(rclone, target))
      .then(
        (hashes) => log.info({ target, hashes }, 'off-site target answers'),
        (err: Error) => log.warn({ target, err: err.message }, 'off-site target does not answer at start; copies will retry'),
      );
  }
}

export function makeCopyProcessor(ctx: AppContext) {
  // Three parameters: BullMQ passes its abort signal (a shutdown handing jobs back) only then.
  return async (job: Job<CopyJobData>, token?: string, signal?: AbortSignal): Promise<CopyOutcome> => {
    checkRunJobData(job.data); // names files: not trusted (job-data.ts)
    const { volume, stamp, file, target } = job.data;
    const log = ctx.logger.child({ module: 'copy', volume, stamp, file, target, jobId: job.id });
    const offsite = ctx.config.offsite;
    if (!offsite) throw new UnrecoverableError('off-site copies are not configured (OFFSITE_TARGETS is unset)');
    if (!offsite.targets.includes(target)) throw new UnrecoverableError(`${target} is no longer one of OFFSITE_TARGETS`);
    const earlier = await ctx.copies.get(file, target);
    if (earlier) {
      log.info('copy was completed by an earlier attempt');
      return { record: earlier, copiedEarlier: true };
    }
    if (!(await fs.stat(path.join(ctx.config.backupDir, file)).catch(() => undefined))) {
      throw new UnrecoverableError(`${file} is no longer in BACKUP_DIR: nothing to copy`);
    }
    const started = Date.now();
    let lastProgress = 0;
    log.info({ attempt: job.attemptsMade + 1, encrypted: offsite.recipients.length > 0 }, 'off-site copy started');
    try {
      // A copy that may be on the target already: queued by the rebuild after Redis lost the records
      // (./copy-rebuild.ts), or a retry whose earlier attempt may have finished the copy but not its
      // record. The first attempt of a nightly copy does not look (its archive is new).
      if (job.data.find || job.attemptsMade > 0) {
        const found = await foundOnTarget(ctx, file, target, log, signal);
        if (found) {
          await ctx.copies.record(file, found);
          log.info({ object: found.file, size: found.size, sha256: found.sha256, copiedAt: found.copiedAt }, 'copy found on the target and verified there; recorded without uploading');
          // No retention here: nothing new arrived, and a copy found after a disaster or a Redis loss
          // is recorded by a server that knows least about the target (an audit saw such a job delete
          // the chain of the point it had just restored). The next new copy runs it.
          return { record: found, found: true };
        }
      }
      const r = await copyArchive({
        rclone: await rcloneOptions(offsite),
        target,
        backupDir: ctx.config.backupDir,
        file,
        recipients: offsite.recipients,
        signal,
        onProgress: (sent, total) => {
          if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
          lastProgress = Date.now();
          void job.updateProgress({ bytesDone: sent, bytesTotal: total }).catch(() => undefined);
        },
      });
      const at = ctx.clock.now().toISOString();
      const record: CopyRecord = { target, file: r.file, size: r.size, sha256: r.sha256, md5: r.md5, sha1: r.sha1, check: r.check, encrypted: r.encrypted, copiedAt: at, verifiedAt: at };
      await ctx.copies.record(file, record);
      log.info({ object: r.file, size: r.size, sha256: r.sha256, verification: r.verification, durationMs: Date.now() - started }, 'off-site copy finished and verified');
      await remoteRetention(ctx, { volume, target, signal }, log);
      return { record };
    } catch (err) {
      if (signal?.aborted) {
        // Shutdown: not the copy's fault, so no attempt is spent; the next worker starts it again
        // (an object half-written on the target has no completion marker and is overwritten).
        await job.moveToWait(token);
        log.warn('off-site copy interrupted by shutdown, job handed back to the queue');
        throw new WaitingError();
      }
      log.warn({ err: (err as Error).message, attempt: job.attemptsMade + 1, attemptsMax: job.opts.attempts }, 'off-site copy failed');
      throw err;
    }
  };
}

/** The archive's complete copy on the target, checked against it (../engine/offsite/find-copy.ts); undefined: upload. */
async function foundOnTarget(ctx: AppContext, file: string, target: string, log: AppContext['logger'], signal?: AbortSignal): Promise<CopyRecord | undefined> {
  const offsite = ctx.config.offsite!;
  let r: FoundCopy;
  try {
    r = await findCopy({ rclone: await rcloneOptions(offsite), target, backupDir: ctx.config.backupDir, file, recipients: offsite.recipients, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    // A target not listable yet (a directory never written) or away: the upload says what is wrong.
    log.info({ err: (err as Error).message }, 'could not look for a copy on the target; uploading');
    return undefined;
  }
  if ('mismatch' in r) {
    log.warn({ reason: r.mismatch }, 'the target holds no good copy of this archive under its name; uploading it again');
    return undefined;
  }
  if ('absent' in r) return undefined;
  const f = r.found;
  const now = ctx.clock.now().toISOString();
  return { target, file: f.file, size: f.size, sha256: f.sha256, md5: f.md5, sha1: f.sha1, check: f.check, encrypted: f.encrypted, copiedAt: isoOr(f.modTime, now), verifiedAt: now, foundAt: now };
}

function isoOr(time: string, fallback: string): string {
  const t = Date.parse(time);
  return Number.isNaN(t) ? fallback : new Date(t).toISOString();
}

/**
 * The target's retention for this volume, after a verified copy (so the newest copy, just made, is
 * always one of those kept). Never fails the copy: a refused or failed delete is logged, and the
 * next copy to this target tries again.
 */
async function remoteRetention(ctx: AppContext, o: { volume: string; target: string; signal?: AbortSignal }, log: AppContext['logger']): Promise<void> {
  const offsite = ctx.config.offsite!;
  const policy = offsite.retention[o.target] ?? { kind: 'never' as const };
  if (policy.kind === 'never') return;
  try {
    const flaggedLocally = new Set((await ctx.store.listArchives()).filter((a) => a.volume === o.volume && a.sizeDrop !== null).map((a) => a.file));
    const r = await applyRemoteRetention(await rcloneOptions(offsite), o.target, o.volume, policy, { threshold: ctx.config.sizeDropAlert, flaggedLocally }, o.signal);
    if (r.sizeDrops.length) {
      log.warn({ policy: describePolicy(policy), sizeDrops: r.sizeDrops }, 'off-site retention does not count copies of a size drop (a wiped volume?) as generations: with keep:N they go once N good copies followed them, with GFS they wait for a person');
    }
    for (const f of r.removed) await ctx.copies.markRemoved(f, o.target, ctx.clock.now().toISOString());
    if (r.removed.length) log.info({ policy: describePolicy(policy), removed: r.removed }, 'off-site retention removed old copies');
    if (r.refused.length) log.warn({ policy: describePolicy(policy), refused: r.refused }, 'the target refused to delete old copies; tried again after the next copy');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'off-site retention failed; tried again after the next copy');
  }
}

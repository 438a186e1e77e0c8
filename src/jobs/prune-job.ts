/**
 * Prune one volume after its archive of the run succeeded (this job is the archive's flow parent,
 * so BullMQ starts it only then). Keeps the `keep` newest archives by the stamp in their name,
 * removes the rest with their sidecars, and removes `.partial` leftovers of dead jobs. Files that
 * do not match our naming are never touched. With OFFSITE_TARGETS, an archive that has not reached
 * every target it was queued for yet is kept (and `offsite.overdue` raised): the local copy may be
 * the only one.
 *
 * It holds the lock every writer of this kind of file holds: a volume's lock for its archives
 * (archive jobs, a restore's safety backup), the database's lock for the dumps (dump jobs, a SQL
 * restore's safety dump). So while prune runs, no writer of such a `.partial` is alive, and a
 * `.partial` it finds is a dead attempt's. The sidecars' temp files are different: verify jobs
 * write `.verify.json` (and a size drop the manifest) without that lock, so a temp file of a
 * sidecar is removed only when it is older than any write of a small file takes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { archiveFileName, dumpFileName } from '../core/names.js';
import { chainAwareNotAGeneration, chainNeeds, pruneDeletes, safetyBackupsPast, selectPrunable } from '../core/retention.js';
import { selectByPolicy } from '../core/gfs.js';
import { describePolicy } from '../core/retention-policy.js';
import { SIDECAR_SUFFIXES } from '../stores/backup-store.js';
import type { PruneJobData } from '../stores/queues.js';
import type { HeldLock } from '../stores/volume-lock.js';
import { makeAlert } from '../stores/notifier.js';
import { missingTargets } from '../stores/offsite-copies.js';
import { runArchiveFile } from './verify-job.js';
import { checkRunJobData } from './job-data.js';
import { stampInFuture } from './run-claim-check.js';
import { noteEarlierSafetyBackups } from './earlier-safety-backups.js';
import { rebuildCopyRecords } from './copy-rebuild.js';
import { requeueFailedCopies } from './copy-requeue.js';

const LOCK_RETRY_MS = 5000;
/** How long prune waits for another worker's rebuild of the copy records (./copy-rebuild.ts). */
const REBUILD_WAIT_MS = 60_000;

/** A sidecar's temp file older than this is a dead writer's (writing one takes milliseconds). */
export const SIDECAR_TEMP_MAX_AGE_MS = 60 * 60 * 1000;

export interface PruneResult {
  volume: string;
  kept: string[];
  removed: string[];
  debrisRemoved: string[];
}

export function makePruneProcessor(ctx: AppContext) {
  return async (job: Job<PruneJobData>, token?: string): Promise<PruneResult> => {
    // `keep` is read from the stored schedule, never from the job's data: a prune edited or added
    // in bull-board must not choose how many generations are deleted (issue: job data is not trusted).
    checkRunJobData(job.data, job); // names files: not trusted (job-data.ts)
    const { volume, stamp, kind = 'volume' } = job.data;
    const log = ctx.logger.child({ module: 'prune', volume, stamp, jobId: job.id });
    // After Redis lost its data (or on a new installation), the copy records first: one read when they are there.
    await rebuildCopyRecords(ctx, { waitMs: REBUILD_WAIT_MS }).catch((err: Error) => log.warn({ err: err.message }, 'could not rebuild the off-site copy records'));
    const lock = await writersLock(ctx, kind, volume, `${job.id}@${token ?? 'no-token'}`);
    if (!lock) {
      await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      const dir = ctx.config.backupDir;
      // Belt and braces on top of the flow: without this run's archive on disk, prune nothing.
      const own = kind === 'sql' ? dumpFileName(volume, stamp) : await runArchiveFile(dir, volume, stamp, archiveFileName(volume, stamp));
      if (!(await fs.stat(path.join(dir, own)).catch(() => undefined))?.isFile()) {
        throw new Error(`not pruning ${volume}: this run's archive ${own} is missing`);
      }
      await noteEarlierSafetyBackups(ctx, volume, log);
      // An archive stamped in the future (written for a forged job, or under a wrong clock) is no
      // generation: counted, it would push every real one out. It is left alone and said.
      const all = (await ctx.store.listArchives()).filter((a) => a.volume === volume);
      const future = all.filter((a) => stampInFuture(ctx, a.stamp));
      if (future.length) log.warn({ files: future.map((a) => a.file) }, 'archives stamped in the future: not counted as generations and not pruned; look at them');
      const archives = all.filter((a) => !future.includes(a));
      const { value: { keep }, untrusted } = await ctx.schedules.read();
      // Redis lost the schedule and its copy could not be taken back: the default keep may be fewer
      // generations than the admin chose. Nothing is deleted until the schedule is saved again.
      if (untrusted && !ctx.config.localRetention) throw new UnrecoverableError(`not pruning ${volume}: ${untrusted}; no archive was deleted`);
      // The flow starts this job only after the run's verification passed; but a prune retried
      // from the dashboard, or added there, must not prune after a failed one either: the rule
      // lives here, whatever started the job.
      const verified = archives.find((a) => a.file === own)?.verified;
      if (!verified?.ok) {
        // Unrecoverable: a retry cannot make the archive good; a new run makes a new one.
        throw new UnrecoverableError(
          `not pruning ${volume}: this run's archive ${own} ${verified ? `failed its verification (${verified.error ?? 'no reason recorded'})` : 'has not been verified'}; no older archive was deleted`,
        );
      }
      // Copies that used up their attempts (a target down for days) are made again, not left for good.
      await requeueFailedCopies(ctx, archives, log).catch((err: Error) => log.warn({ err: err.message }, 'could not queue failed off-site copies again'));
      // Never after a failure of the run: a child of this flow that failed is one, whatever was edited or retried.
      const { failed = 0 } = await job.getDependenciesCount({ failed: true });
      if (failed > 0) throw new UnrecoverableError(`not pruning ${volume}: a job of this run failed; no archive was deleted`);
      // Incremental archives: what a kept one needs stays (its manifest's chain, issue 16). An
      // incremental whose manifest cannot tell (unreadable) keeps everything older of its volume.
      // Over every archive, those stamped in the future too: they are kept, and so is what they need.
      const needs = chainNeeds(all);
      const notGeneration = chainAwareNotAGeneration(archives, needs);
      // LOCAL_RETENTION=gfs:…: grandfather-father-son over the generations; a size drop or a failed
      // verification is then kept until a person looks, a safety backup until it is older than every
      // generation kept (core/retention.ts notAGeneration, safetyBackupsPast).
      const local = ctx.config.localRetention;
      const generations = archives.filter((a) => !notGeneration(a));
      const gfsDoomed = local ? selectByPolicy(generations, local) : [];
      const byPolicy = local
        ? [...gfsDoomed, ...safetyBackupsPast(archives, generations.filter((a) => !gfsDoomed.includes(a)))]
        : selectPrunable(archives, volume, keep, notGeneration, needs);
      // An archive kept for its copies (or by the policy) keeps the chain it needs, whichever rule
      // kept it; never the archive this run has just verified, nor what it needs.
      const doomed = pruneDeletes(all, await withoutUnreplicated(ctx, byPolicy, log), own, needs);
      for (const a of doomed) {
        await removeIfPresent(path.join(dir, a.file));
        for (const suffix of SIDECAR_SUFFIXES) await removeIfPresent(path.join(dir, a.file + suffix));
      }
      // A crash between removing an archive and its sidecars, or a worker killed mid-write, leaves
      // debris that is only ours to clean while we hold the volume's lock.
      const debrisRemoved = await removeDebris(dir, volume);
      const kept = archives.map((a) => a.file).filter((f) => !doomed.some((d) => d.file === f)).sort();
      const result = { volume, kept, removed: doomed.map((a) => a.file), debrisRemoved };
      log.info({ keep: local ? describePolicy(local) : keep, kept: kept.length, removed: result.removed, debrisRemoved }, 'prune finished');
      return result;
    } finally {
      await lock.release();
    }
  };
}

/**
 * The archives among `doomed` that every target they were queued for holds; the others are kept,
 * logged and alerted as `offsite.overdue` (their copy failed for good, or still retries). A target
 * whose copy records have not been rebuilt since Redis lost its data (./copy-rebuild.ts) holds every
 * archive it has no record of, logged but not alerted: what is on it is not known yet.
 */
async function withoutUnreplicated<A extends { file: string; volume: string; stamp: string }>(ctx: AppContext, doomed: A[], log: AppContext['logger']): Promise<A[]> {
  const targets = ctx.config.offsite?.targets;
  if (!targets?.length || doomed.length === 0) return doomed;
  const names = doomed.map((a) => a.file);
  const [records, expected, rebuilt] = await Promise.all([ctx.copies.forFiles(names), ctx.copies.expectedFor(names), ctx.copies.rebuiltTargets()]);
  const unknown = targets.filter((t) => !rebuilt.has(t));
  // Only archives whose copies were queued wait for them (not those from before OFFSITE_TARGETS, nor safety backups).
  const held = doomed
    .map((a) => ({
      a,
      missing: missingTargets((expected.get(a.file) ?? []).filter((t) => targets.includes(t)), records.get(a.file)),
      unknown: missingTargets(unknown, records.get(a.file)),
    }))
    .filter((h) => h.missing.length > 0 || h.unknown.length > 0);
  if (held.length === 0) return doomed;
  const waiting = held.filter((h) => h.unknown.length > 0).map((h) => ({ file: h.a.file, notRebuiltOn: h.unknown }));
  if (waiting.length) log.warn({ files: waiting }, 'kept archives past retention: the off-site copy records are being rebuilt from the targets (Redis lost its data?)');
  const overdue = held.filter((h) => h.missing.length > 0);
  if (overdue.length) {
    const files = overdue.map((h) => ({ file: h.a.file, missingOn: h.missing }));
    log.warn({ files }, 'kept archives that are not on every off-site target yet');
    ctx.notifier.notify(makeAlert({ event: 'offsite.overdue', kind: 'prune', volume: overdue[0]!.a.volume, reason: `${overdue.length} archive(s) past retention kept: not on every off-site target yet`, details: { files } }));
  }
  return doomed.filter((a) => !held.some((h) => h.a === a));
}

/** The lock that every writer of this volume's (or dump's) archives holds while it writes. */
function writersLock(ctx: AppContext, kind: PruneJobData['kind'], volume: string, owner: string): Promise<HeldLock | undefined> {
  if (kind === 'sql') return ctx.dbLocks.acquire(ctx.config.db?.database ?? volume, owner);
  return ctx.locks.acquire(volume, owner);
}

/**
 * The archives' own `.partial` files of this volume (we hold their writers' lock), sidecar temp
 * files older than SIDECAR_TEMP_MAX_AGE_MS, and sidecars whose archive is gone.
 */
async function removeDebris(dir: string, volume: string, now = Date.now()): Promise<string[]> {
  const archive = `${volume}_\\d{4}-\\d{2}-\\d{2}-\\d{4}\\.(?:tar|inc\\.tar|sql)\\.gz`;
  const suffixes = SIDECAR_SUFFIXES.map((s) => s.replace(/\./g, '\\.')).join('|');
  const partial = new RegExp(`^${archive}\\.partial$`);
  // `<sidecar>.<12 hex>.partial` (writeFileAtomic), or `<sidecar>.partial` of earlier versions.
  const sidecarTemp = new RegExp(`^${archive}(?:${suffixes})(?:\\.[0-9a-f]{12})?\\.partial$`);
  const sidecar = new RegExp(`^(${archive})(${suffixes})$`);
  const names = await fs.readdir(dir);
  const present = new Set(names);
  const debris: string[] = [];
  for (const n of names) {
    const stale =
      partial.test(n) ||
      (sidecar.test(n) && !present.has(sidecar.exec(n)![1]!)) ||
      (sidecarTemp.test(n) && now - ((await fs.stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? now) > SIDECAR_TEMP_MAX_AGE_MS);
    if (stale) debris.push(n);
  }
  for (const n of debris) await removeIfPresent(path.join(dir, n));
  return debris;
}

async function removeIfPresent(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}

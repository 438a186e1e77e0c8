/**
 * Archive one volume for one run. Holds the volume's lock for the whole write, so two workers never
 * archive (or prune, or restore) the same volume at once; a job that finds the lock taken waits in
 * the delayed set instead of failing.
 *
 * Retries after a worker died (kill -9, OOM; BullMQ's stalled-job detection hands the job to another
 * worker, see WORKER_TIMING in ./index.ts):
 * - the lock belongs to one attempt, so a retry waits until the dead attempt's lock expired rather
 *   than share the volume with an attempt that may still be alive;
 * - a retry removes the dead attempt's `.partial` files before it checks free space and writes;
 * - a retry after a crash that happened after the rename finds the finished archive with its
 *   checksum (and a manifest that agrees) and reports it instead of failing on "already exists".
 * On shutdown (BullMQ's abort signal) the archive stops, removes its `.partial` and moves the job
 * back to waiting without spending an attempt. If the volume lock is lost mid-write (Redis
 * unreachable for a lock TTL), the archive stops before it publishes anything and the attempt fails.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { archiveFileName, runArchiveNames } from '../core/names.js';
import { tempFilesOf } from '../engine/fs/atomic.js';
import { noteCatchUp } from '../engine/manifest-notes.js';
import type { ArchiveJobData } from '../stores/queues.js';
import { overlapWithBackups, unreachableReason, volumeDir } from '../engine/fs/volumes.js';
import { lastRestored } from '../stores/restored-at.js';
import { archiveVolume, partialPath, type ArchiveProgress, type ArchiveResult } from '../engine/archive/archive-volume.js';
import { archiveIncremental, DirectoriesRenamed, SNAPSHOT_SUFFIX } from '../engine/incremental/incremental-archive.js';
import { planArchive } from './archive-level.js';
import { ensureRoomForArchive } from './space-guard.js';
import { recoverInterruptedRestores } from '../engine/swap/recovery.js';
import { leftoverWorkDirs } from '../engine/swap/work-dir.js';
import { checkRunJobData } from './job-data.js';
import { checkRunClaim } from './run-claim-check.js';

const LOCK_RETRY_MS = 5000;

export function makeArchiveProcessor(ctx: AppContext) {
  // Three parameters: BullMQ passes the abort signal only to processors that declare it. It fires
  // when a shutdown hands the job back (see close() in ./index.ts).
  return async (job: Job<ArchiveJobData>, token?: string, signal?: AbortSignal): Promise<ArchiveResult | FinishedEarlier> => {
    checkRunJobData(job.data, job); // names files: not trusted (job-data.ts)
    const { volume, stamp } = job.data;
    await checkRunClaim(ctx, stamp); // only for a started run, around its minute (run-claim-check.ts)
    const log = ctx.logger.child({ module: 'archive', volume, stamp, jobId: job.id });
    const dir = await volumeDir(ctx.config.volumes, volume);
    if (dir === undefined) throw new Error(`volume "${volume}" is not configured any more`);
    // A volume whose symlink leads nowhere (a disk not mounted): its failure says so, and alerts.
    const unreachable = await unreachableReason(dir);
    if (unreachable) throw new UnrecoverableError(`volume "${volume}" cannot be reached: ${dir} ${unreachable} (a disk that is not mounted?); nothing was archived`);
    const overlap = await overlapWithBackups(dir, ctx.config.backupDir);
    if (overlap) throw new UnrecoverableError(`volume "${volume}" and BACKUP_DIR overlap (${overlap}): its archive would hold the backups themselves; put BACKUP_DIR outside every volume; nothing was archived`);
    const names = runArchiveNames(volume, stamp);

    // One owner per attempt (BullMQ's token is new for every fetch of the job): a retry after a
    // stall must not share the lock with an earlier attempt that may still be alive and writing; it
    // waits until that attempt's lock expired (kill -9) or was released (see ../lib/volume-lock.ts).
    const lock = await ctx.locks.acquire(volume, `${job.id}@${token ?? 'no-token'}`);
    if (!lock) {
      const [holder, expiresIn] = await Promise.all([ctx.locks.holder(volume), ctx.locks.expiresIn(volume)]);
      log.info({ holder, expiresInMs: expiresIn }, 'volume busy, waiting');
      // A dead holder's lock runs out in expiresIn; a live one keeps renewing it, so poll no slower.
      await job.moveToDelayed(Date.now() + Math.min(LOCK_RETRY_MS, Math.max(250, expiresIn + 100)), token);
      throw new DelayedError();
    }
    let fileName = names[0];
    try {
      for (const name of names) {
        const earlier = await finishedEarlier(ctx.config.backupDir, name);
        if (earlier) {
          log.info({ file: name }, 'archive was completed by an earlier attempt');
          await noteCatchUp(ctx.config.backupDir, name, job.data.catchUpFor);
          return earlier;
        }
      }
      // A restore replaced the volume after this run started (this job waited for its lock): the
      // archive would hold the restored data under the minute before it. Not archived; the next run does.
      const restored = await lastRestored(ctx.redis, ctx.config.queuePrefix, volume);
      if (restored !== undefined && restored > job.timestamp) {
        throw new UnrecoverableError(
          `volume "${volume}" was restored at ${new Date(restored).toISOString()}, after this run was started (${new Date(job.timestamp).toISOString()}): ` +
            `its archive would hold the restored data under ${stamp}; nothing was archived (the next run backs it up; the data from before the restore is in the restore's safety backup)`,
        );
      }
      if (job.stalledCounter > 0 || job.attemptsMade > 0) {
        // (attemptsStarted also counts the waits for a busy volume, so it says nothing here.)
        log.warn({ failedAttempts: job.attemptsMade, stalled: job.stalledCounter }, 'archive retried after an earlier attempt failed or its worker died');
      }
      // Debris of an attempt that was killed mid-write; ours to remove now that this attempt holds
      // the volume (archiveVolume would remove it too, but it must not count against free space).
      for (const name of names) await removeStalePartials(ctx.config.backupDir, name);
      // A restore of this volume that died mid-way left its work directory (and maybe half a
      // swap) in the volume: finish or roll it back now that we hold the volume, so the archive
      // holds the volume's data and not the restore's leftovers.
      const recovered = await recoverInterruptedRestores(dir, log);
      if (recovered.length) log.warn({ actions: recovered }, 'recovered an interrupted restore before archiving');
      // What is left is a finished restore's previous data that could not be removed: left out, with a warning.
      const leaveOut = await leftoverWorkDirs(dir);
      const plan = await planArchive(ctx, volume, stamp, await ctx.volumeModes.get(volume));
      const room = await ensureRoomForArchive(ctx, volume, dir, plan.mode === 'full' || plan.level === 0);
      fileName = plan.fileName;
      log.info(
        { dir, file: fileName, attempt: job.attemptsMade + 1, estimate: room.estimate, free: room.free, ...(plan.mode === 'incremental' ? { level: plan.level, why: plan.why } : {}) },
        'archive started',
      );
      const common = {
        volume,
        volumeDir: dir,
        backupDir: ctx.config.backupDir,
        fileName,
        gzipLevel: ctx.config.gzipLevel,
        gzipParallel: ctx.config.gzipParallel,
        logger: log,
        onProgress: (p: ArchiveProgress) => void job.updateProgress(p).catch(() => undefined),
        // Stop (and drop the .partial) when the volume lock is lost or the shutdown hands us back.
        signal: signal ? AbortSignal.any([signal, lock.signal]) : lock.signal,
        leaveOut,
      };
      const result =
        plan.mode === 'full'
          ? await archiveVolume(common)
          : await archiveIncremental({ ...common, level: plan.level, base: plan.base, basedOn: plan.basedOn }).catch(async (err: unknown) => {
              if (!(err instanceof DirectoriesRenamed)) throw err;
              // A rename that GNU tar could not replay on restore (rename-conflicts.ts): a new full instead.
              fileName = archiveFileName(volume, stamp);
              log.warn({ file: fileName, renamed: err.lines.slice(0, 20) }, `${err.message}: this run writes a new full instead`);
              await ensureRoomForArchive(ctx, volume, dir, true);
              return archiveIncremental({ ...common, fileName, level: 0, base: undefined, basedOn: [] });
            });
      await noteCatchUp(ctx.config.backupDir, fileName, job.data.catchUpFor);
      log.info(
        { file: result.file, size: result.size, entries: result.entries, durationMs: result.durationMs, warnings: result.warnings.length },
        'archive finished',
      );
      return result;
    } catch (err) {
      if (signal?.aborted && !lock.lost) {
        // Shutdown: not the archive's fault, so no attempt is spent. Release the volume first so
        // the next worker can start at once, then put the job back at the head of the queue.
        await lock.release();
        await job.moveToWait(token);
        log.warn({ file: fileName }, 'archive interrupted by shutdown, job handed back to the queue');
        throw new WaitingError();
      }
      if (lock.lost) {
        log.error({ err: (lock.signal.reason as Error).message }, 'volume lock lost, archive abandoned');
      }
      log.error({ err: (err as Error).message, attempt: job.attemptsMade + 1 }, 'archive failed');
      throw err;
    } finally {
      await lock.release();
    }
  };
}

/**
 * The archive's own `.partial` and its sidecars' temp files. Only called while the archive does not
 * exist under its final name, so no verify job can be writing a sidecar of it.
 */
async function removeStalePartials(backupDir: string, fileName: string): Promise<void> {
  const final = path.join(backupDir, fileName);
  const sidecarTemps = (await Promise.all(['.sha256', '.manifest.json'].map((s) => tempFilesOf(`${final}${s}`)))).flat();
  const snapshotTemp = `${final}${SNAPSHOT_SUFFIX}.partial`;
  await Promise.all([partialPath(backupDir, fileName), snapshotTemp, ...sidecarTemps].map((p) => fs.rm(p, { force: true })));
}

export interface FinishedEarlier {
  file: string;
  sha256: string;
  size: number;
  completedEarlier: true;
}

async function finishedEarlier(backupDir: string, fileName: string): Promise<FinishedEarlier | undefined> {
  const full = path.join(backupDir, fileName);
  const stat = await fs.stat(full).catch(() => undefined);
  if (!stat) return undefined;
  const sidecar = await fs.readFile(`${full}.sha256`, 'utf8').catch(() => undefined);
  const sha256 = sidecar && /^([0-9a-f]{64})\s/.exec(sidecar)?.[1];
  // An archive without its checksum was not finished by us: refuse rather than vouch for it.
  if (!sha256) throw new Error(`${fileName} exists but has no .sha256 sidecar; not overwriting it`);
  // The sidecars are written before the rename, so they describe exactly the file that got the
  // final name; a size that differs means someone else changed it.
  const manifest = await fs
    .readFile(`${full}.manifest.json`, 'utf8')
    .then((t) => JSON.parse(t) as { size?: unknown; sha256?: unknown })
    .catch(() => undefined);
  const differs = (v: unknown, want: unknown) => v !== undefined && v !== want;
  if (manifest && (differs(manifest.size, stat.size) || differs(manifest.sha256, sha256))) {
    throw new Error(`${fileName} does not match its manifest (size ${stat.size}, manifest ${String(manifest.size)}); not overwriting it`);
  }
  return { file: fileName, sha256, size: stat.size, completedEarlier: true };
}

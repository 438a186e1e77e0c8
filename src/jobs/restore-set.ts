/**
 * Restore volumes from a backup set, in the order that can lose nothing:
 *   0. from an off-site target (`from`): fetch the archives into BACKUP_DIR (./restore-fetch.ts);
 *   1. check free space (staging in the volume, safety backup in BACKUP_DIR);
 *   2. extract each archive into a staging directory inside its volume while verifying it
 *      completely, in one pass (sha256 against the sidecar, our reader's checks, GNU tar's reading
 *      of it and its manifest all agreeing: archive-verification.ts); any failure discards staging;
 *   3. make a safety backup of the current data (a normal archive with the current minute's stamp,
 *      leaving out exactly this restore's work directory);
 *   4. swap staged and current entries by renames, rolling back on any failure; once every volume
 *      is swapped, remove their previous data side by side.
 * Live data is touched only in step 4, after everything before it succeeded. The caller holds the
 * locks of all volumes and the restore hold; `signal` aborts when one of them is lost (Redis away
 * for a lock's TTL: someone else may hold it now), and then nothing more is written or swapped.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { archiveFileName } from '../core/names.js';
import type { StoredArchive } from '../stores/backup-store.js';
import type { Logger } from '../runtime/logger.js';
import type { RestoreRequest } from '../stores/restore-requests.js';
import { existingVolumeDir, overlapWithBackups } from '../engine/fs/volumes.js';
import { noteRestored } from '../stores/restored-at.js';
import { archiveVolume } from '../engine/archive/archive-volume.js';
import { restoreChainOf } from '../engine/incremental/chain.js';
import { restoreChain } from '../engine/incremental/restore-chain.js';
import type { RootMeta } from '../engine/extract/extract-options.js';
import { isWriteFailure, writeFailureHint } from '../engine/extract/write-failure.js';
import { chainSpace, requireSetSpace, type ChainSpace } from './restore-space.js';
import { claimSafetyStamp } from './safety-stamp.js';
import { noteSafetyBackup } from '../engine/manifest-notes.js';
import { releaseFreedMemory } from '../engine/gzip/gc-nudge.js';
import { dirTimesOf, putDirTimes, type DirTimes } from '../engine/fs/file-times.js';
import { archiveWarnings } from './archive-warnings.js';
import { refuseMountsBelow } from '../engine/fs/mounts.js';
import { fetchFromTarget, restoreVerification, type FromTarget } from './restore-fetch.js';
import { recoverInterruptedRestores } from '../engine/swap/recovery.js';
import { commitSwap, finishCommitted } from '../engine/swap/swap-volume.js';
import { flushFileSystems } from '../engine/swap/flush-volumes.js';
import { createWorkDir, leftoverWorkDirs, removeWorkDir, workDirName } from '../engine/swap/work-dir.js';

export interface SetRestoreSummary {
  kind: 'set';
  stamp: string;
  volumes: { volume: string; entries: number; files: number; bytes: number }[];
  safetyBackupStamp: string | null;
  durationMs: number;
  restartRequired: true;
  message: string;
  /** What the restore could not finish although the volumes are restored (previous data left behind). */
  warnings: string[];
}

interface Target {
  volume: string;
  dir: string;
  archive: StoredArchive;
  archivePath: string;
  /** Content and compressed bytes of the chain (restore-space.ts). */
  space: ChainSpace;
  /** The files a restore reads: the archive itself, or for an incremental its full, the incrementals before it, itself. */
  chain: string[];
}

type Phase = 'fetch' | 'check' | 'extract' | 'safety-backup' | 'swap' | 'done';

class VerificationFailed extends Error {}

/** `fromTarget`: the age identity that opens an encrypted off-site copy (a restore `from` a target), and what was fetched. */
export async function restoreSet(
  ctx: AppContext,
  job: Job,
  request: RestoreRequest,
  log: Logger,
  signal?: AbortSignal,
  fromTarget: FromTarget = { identity: async () => undefined, fetched: [] },
  /** Asks Redis now whether every lock is still ours (aborting `signal` if not): right before the swap. */
  confirmLocks: () => Promise<void> = async () => undefined,
): Promise<SetRestoreSummary> {
  const started = Date.now();
  const stamp = request.stamp!;
  const progress = (phase: Phase, extra: Record<string, unknown> = {}) => void job.updateProgress({ phase, ...extra }).catch(() => undefined);

  if (request.from) {
    // On a new server the volumes' directories may not be there yet: said now, not after hours of download.
    for (const volume of request.volumes) {
      await existingVolumeDir(ctx.config.volumes, volume).catch((err: Error) => {
        throw new Error(`${err.message}; nothing was fetched or changed`, { cause: err });
      });
    }
    progress('fetch', { from: request.from });
    const files = request.volumes.map((v) => archiveFileName(v, stamp));
    await fetchFromTarget(ctx, request, files, fromTarget, log, { signal, onProgress: (volume, bytesDone) => progress('fetch', { volume, bytesDone }) }).catch((err: Error) => {
      throw new Error(`fetching the backup from ${request.from} failed, nothing was changed: ${err.message}`, { cause: err });
    });
  }
  progress('check');
  const targets = await resolveTargets(ctx, stamp, request.volumes);
  for (const t of targets) await refuseMountsBelow(t.volume, t.dir);
  // A restore of these volumes that died mid-swap (this job's own earlier attempt included) is
  // rolled back first; we hold their locks, so nothing else is using the staging directories.
  for (const t of targets) {
    const done = await recoverInterruptedRestores(t.dir, log);
    if (done.length) log.warn({ volume: t.volume, actions: done }, 'recovered an interrupted restore');
  }
  await requireSetSpace(ctx.config.backupDir, ctx.config.restoreSpaceRatio, targets, !request.skipSafetyBackup);

  const results: SetRestoreSummary['volumes'] = [];
  const staged: { target: Target; rootMeta: RootMeta | undefined }[] = [];
  // The work directory lives inside the volume, so creating it changes the root's mtime: remember
  // the times the admin's data had, so that a restore that fails leaves the volume exactly as it was.
  const rootTimes = new Map<string, DirTimes>();
  for (const t of targets) rootTimes.set(t.volume, await dirTimesOf(t.dir));
  const dropStaging = (list: Target[]) =>
    Promise.all(
      list.map(async (t) => {
        await removeWorkDir(t.dir, request.id, log);
        const times = rootTimes.get(t.volume);
        if (times) await putDirTimes(t.dir, times).catch(() => undefined);
      }),
    );

  // One pass per archive: extracted into the staging directory while it is verified completely
  // (sha256, our reader's checks, GNU tar's listing on the other core, the manifest). Live data is
  // untouched; a failure discards every staging directory and leaves the volumes as they were.
  try {
    for (const t of targets) {
      // Each volume starts from the worker's idle size, not on top of the last one's freed buffers.
      await releaseFreedMemory();
      progress('extract', { volume: t.volume });
      log.info({ volume: t.volume, file: t.archive.file }, 'extracting and verifying archive');
      // Through its descriptor: whatever a share user renames meanwhile, we write only there.
      const staging = await createWorkDir(t.dir, request.id);
      // An incremental archive: its full and the incrementals before it, in order (issue 16).
      const r = await restoreChain({
        files: t.chain.map((f) => path.join(ctx.config.backupDir, f)),
        stagingDir: staging.path,
        logger: log, signal,
        // The writer threads are waited for synchronously: stay well below the job lock's duration.
        writers: { threads: ctx.config.restoreThreads, stallMs: Math.max(1000, Math.floor(ctx.config.jobLockMs / 4)) },
        writebackEveryBytes: ctx.config.restoreWritebackBytes,
        onProgress: (p) => progress('extract', { volume: t.volume, ...p }),
        onVerified: (file, v, durationMs) => fromTarget.verified?.set(path.basename(file), restoreVerification(v, durationMs)),
      }).catch((err: Error) => {
        if (isWriteFailure(err)) {
          throw new Error(`writing the restored data into ${t.volume} failed, not the archive${writeFailureHint(err)}: ${err.message}`, { cause: err });
        }
        // A lost lock aborts the extraction: the reason, not the archive (an audit read "failed verification … aborted").
        if (signal?.aborted) throw new VerificationFailed(stoppedBy(signal, `while extracting ${t.archive.file}`), { cause: err });
        throw new VerificationFailed(`archive ${t.archive.file} failed verification, nothing was changed: ${err.message}`, { cause: err });
      }).finally(() => staging.close());
      staged.push({ target: t, rootMeta: r.rootMeta });
      results.push({ volume: t.volume, entries: r.entries, files: r.files, bytes: r.bytes });
      log.info({ volume: t.volume, entries: r.entries, bytes: r.bytes, chain: t.chain }, 'archive verified and extracted into staging');
    }
  } catch (err) {
    await dropStaging(targets);
    if (err instanceof VerificationFailed) throw err;
    throw new Error(`extracting the backup failed, nothing was changed: ${(err as Error).message}`, { cause: err });
  }

  // The safety backup of the current data, now that the archives are known to be good. It leaves
  // out exactly this restore's own work directory (marked as ours), nothing else.
  let safetyBackupStamp: string | null = null;
  if (!request.skipSafetyBackup) {
    try {
      // Before the claim, which waits up to a minute when this one has a set: the screen said "extract, 100 %".
      progress('safety-backup', { volume: targets[0]?.volume });
      safetyBackupStamp = await claimSafetyStamp(ctx, `restore-${request.id}`);
      for (const t of targets) {
        // The buffers of the extraction and of the volume before go back to the system first: one
        // job archives every volume here, where archive jobs would each start afresh (workers.ts).
        await releaseFreedMemory();
        progress('safety-backup', { volume: t.volume });
        const fileName = archiveFileName(t.volume, safetyBackupStamp);
        // Creating our work directory changed the root's mtime: the safety backup must hold the
        // admin's data as it was, so the root gets its own times back first (the work directory,
        // which it leaves out, stays; the swap or the drop sets the root's times again).
        const times = rootTimes.get(t.volume);
        if (times) await putDirTimes(t.dir, times);
        const r = await archiveVolume({
          volume: t.volume, volumeDir: t.dir, backupDir: ctx.config.backupDir, fileName,
          gzipLevel: ctx.config.gzipLevel, logger: log, skipTopNames: [workDirName(request.id)], leaveOut: await leftoverWorkDirs(t.dir), signal,
          onProgress: (p) => progress('safety-backup', { volume: t.volume, ...p }),
        });
        await noteSafetyBackup(ctx.config.backupDir, r.file, request.id);
        log.info({ volume: t.volume, file: r.file, size: r.size }, 'safety backup written');
      }
    } catch (err) {
      await dropStaging(targets);
      // A lost lock aborts the safety backup: the reason, not the backup disk (found by an audit).
      if (signal?.aborted) throw new Error(stoppedBy(signal, 'during the safety backup'), { cause: err });
      throw new Error(`safety backup failed, nothing was changed: ${(err as Error).message}`, { cause: err });
    }
  }

  // Every volume is swapped in (committed) before any previous data is removed: the volumes change
  // within a few renames of each other, not one removal of 20,000 documents apart, and the removals
  // then run side by side. A crash in between leaves committed work directories, which the
  // recovery finishes; a swap that fails is rolled back and the committed ones are finished.
  const swapped: typeof staged = [];
  const warnings: string[] = [];
  const removePrevious = () =>
    Promise.all(
      swapped.map(async ({ target, rootMeta }) => {
        const started = Date.now();
        const leftover = await finishCommitted(target.dir, request.id, rootMeta, log);
        if (leftover) warnings.push(`${target.volume}: ${leftover}`);
        else log.info({ volume: target.volume, durationMs: Date.now() - started }, 'previous data removed');
      }),
    );
  // Every staged tree is on disk before the first volume changes, by one flush per file system.
  progress('swap');
  const flushStarted = Date.now();
  await flushFileSystems(staged.map((s) => s.target.dir)).catch(async (err: Error) => {
    await dropStaging(targets);
    throw new Error(`flushing the restored data to disk failed, nothing was changed: ${err.message}`, { cause: err });
  });
  log.info({ volumes: staged.map((s) => s.target.volume), durationMs: Date.now() - flushStarted }, 'restored data flushed to disk');
  await confirmLocks();
  if (signal?.aborted) {
    await dropStaging(targets);
    throw new Error(stoppedBy(signal, 'before the swap'), { cause: signal.reason });
  }
  // The volumes are committed side by side: each commit is a few renames and about eight fsyncs,
  // which a journaled file system then commits together instead of one volume after the other
  // (on the benchmark's journaled disk a small volume's swap alone took 0.35-0.42 s; side by side
  // the four commits took 0.085 s, BENCHMARKS.md). Each commit is all or nothing for its volume:
  // one that fails is rolled back by commitSwap, the others stay restored, the error names both.
  const commits = await Promise.allSettled(
    staged.map(async (s) => {
      await commitSwap(s.target.dir, {
        id: request.id, rootMeta: s.rootMeta, rootTimes: rootTimes.get(s.target.volume), logger: log, flushed: true,
        failAfterRenames: failSwapAfter(ctx, s.target.volume),
      });
      swapped.push(s);
      log.warn({ volume: s.target.volume, stamp }, 'volume replaced by the backup');
      await noteRestored(ctx.redis, ctx.config.queuePrefix, s.target.volume).catch(() => undefined);
    }),
  );
  const failed = staged.flatMap((s, i) => (commits[i]!.status === 'rejected' ? [{ s, err: (commits[i] as PromiseRejectedResult).reason as Error }] : []));
  if (failed.length > 0) {
    await dropStaging(failed.map((f) => f.s.target));
    await removePrevious();
    const done = (swapped.length ? ` Already restored: ${swapped.map((x) => x.target.volume).join(', ')}.` : '') + warnings.map((w) => ` ${w}.`).join('');
    const what = failed.map((f) => `replacing ${f.s.target.volume} failed and was rolled back: ${f.err.message}`).join('; ');
    throw new Error(`${what}.${done}`, { cause: failed[0]!.err });
  }
  // 'done' is the main screen's last step, "Aufräumen" (cleaning up): the removal of the previous data.
  progress('done');
  await removePrevious();
  for (const { target } of swapped) {
    const said = await archiveWarnings(target.volume, target.chain.map((f) => path.join(ctx.config.backupDir, f))).catch(() => undefined);
    if (said) warnings.push(said);
  }

  return {
    kind: 'set',
    stamp,
    volumes: results,
    safetyBackupStamp,
    durationMs: Date.now() - started,
    restartRequired: true,
    message: `Restored ${swapped.map((x) => x.target.volume).join(', ')} from ${stamp}. Restart Elexis-OOB (and Elexis) now.` +
      (safetyBackupStamp ? ` The data before the restore is in backup set ${safetyBackupStamp}.` : '') +
      warnings.map((w) => ` Warning: ${w}.`).join(''),
    warnings,
  };
}

async function resolveTargets(ctx: AppContext, stamp: string, volumes: string[]): Promise<Target[]> {
  const set = await ctx.store.getSet(stamp);
  if (!set) throw new Error(`backup set ${stamp} no longer exists`);
  const targets: Target[] = [];
  for (const volume of volumes) {
    const archive = set.archives.find((a) => a.kind === 'volume' && a.volume === volume);
    if (!archive) throw new Error(`backup set ${stamp} has no archive of ${volume} any more`);
    const dir = await existingVolumeDir(ctx.config.volumes, volume);
    const overlap = await overlapWithBackups(dir, ctx.config.backupDir);
    if (overlap) throw new Error(`volume ${volume} and BACKUP_DIR overlap (${overlap}): a restore of it would swap the backups away; nothing was changed`);
    const archivePath = path.join(ctx.config.backupDir, archive.file);
    const chain = await restoreChainOf(ctx.config.backupDir, archive.file).catch((err: Error) => {
      throw new Error(`${err.message}; nothing was changed`, { cause: err });
    });
    targets.push({ volume, dir, archive, archivePath, space: await chainSpace(ctx.config.backupDir, chain), chain });
  }
  return targets;
}

/** Why a restore whose lock was lost (`signal`'s reason) stopped, and that nothing changed. */
function stoppedBy(signal: AbortSignal, when: string): string {
  return `the restore stopped ${when}, nothing was changed: ${(signal.reason as Error | undefined)?.message ?? 'it was aborted'}`;
}

function failSwapAfter(ctx: AppContext, volume: string): number | undefined {
  const hook = ctx.config.testHooks.failSwap;
  return hook?.volume === volume ? hook.afterRenames : undefined;
}

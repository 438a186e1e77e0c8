/**
 * Restore chosen files and folders of one volume's archive (single-file restore), in the order
 * that can lose nothing:
 *   1. find the chosen paths in the archive's entry index (and the hard link targets they need);
 *      check free space for what they hold;
 *   2. extract exactly those entries into the restore's work directory inside the volume while the
 *      whole archive is verified as for any restore (sha256 against the sidecar, our reader and GNU
 *      tar agreeing on every entry and with the manifest, hostile entries anywhere refusing it);
 *      any failure discards the work directory and leaves the volume untouched. An incremental
 *      archive holds only what changed since the archive before it, so there the
 *      whole chain is restored (restore-chain.ts, verified the same way, GNU tar replaying its
 *      deletions and renames) into the work directory and the chosen paths are taken from it
 *      (take-paths.ts): exact, at the cost of the volume's size in staging space and time;
 *   3. beside: rename the staged tree to a new folder `Wiederhergestellt-<stamp>` (no safety
 *      backup); in place: a safety backup (unless skipped), then swap only the chosen paths
 *      (place-paths.ts), rolled back on failure. Live data is touched only in step 3.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import { dirTimesOf, putDirTimes } from '../engine/fs/file-times.js';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import { archiveFileName } from '../core/names.js';
import { besideFolderName } from '../core/restore-warning.js';
import { quoteName, showName } from '../core/show-name.js';
import { chosenPathsProblem } from '../core/chosen-paths.js';
import type { RestoreRequest } from '../stores/restore-requests.js';
import { noteRestored } from '../stores/restored-at.js';
import { archiveVolume } from '../engine/archive/archive-volume.js';
import { releaseFreedMemory } from '../engine/gzip/gc-nudge.js';
import { withEntryIndex } from '../engine/entry-index/entry-index.js';
import { restoreChainOf } from '../engine/incremental/chain.js';
import { restoreChain } from '../engine/incremental/restore-chain.js';
import { countChosen, takeChosenPaths } from '../engine/incremental/take-paths.js';
import { removeTreeAtAsync } from '../engine/fs/remove-tree.js';
import { chosenAncestor, selectPaths } from '../engine/entry-index/select-paths.js';
import { requireSpace, formatBytes } from '../engine/fs/free-space.js';
import { existingVolumeDir, overlapWithBackups } from '../engine/fs/volumes.js';
import { placeBeside, RefusedBeforeSwap, swapPaths } from '../engine/swap/place-paths.js';
import { recoverInterruptedRestores } from '../engine/swap/recovery.js';
import { finishCommitted } from '../engine/swap/swap-volume.js';
import { flushFileSystems } from '../engine/swap/flush-volumes.js';
import { createWorkDir, leftoverWorkDirs, removeWorkDir, workDirName } from '../engine/swap/work-dir.js';
import { verifyVolumeArchive } from '../engine/verify/archive-verification.js';
import { isWriteFailure, writeFailureHint } from '../engine/extract/write-failure.js';
import { chainSpace, safetyBackupNeed, stagingNeed } from './restore-space.js';
import { claimSafetyStamp } from './safety-stamp.js';
import { noteSafetyBackup } from '../engine/manifest-notes.js';

export interface FilesRestoreSummary {
  kind: 'files';
  stamp: string;
  volume: string;
  into: 'beside' | 'in-place';
  /** Beside: the new folder in the volume that holds the restored paths. */
  target: string | null;
  /** The chosen paths, for display. */
  paths: string[];
  files: number;
  bytes: number;
  safetyBackupStamp: string | null;
  durationMs: number;
  restartRequired: false;
  message: string;
  /** What the restore could not finish although the paths are restored (previous versions left behind). */
  warnings: string[];
}

type Phase = 'check' | 'extract' | 'safety-backup' | 'swap' | 'done';

export async function restoreFiles(
  ctx: AppContext,
  job: Job,
  request: RestoreRequest,
  log: Logger,
  signal?: AbortSignal,
  confirmLocks: () => Promise<void> = async () => undefined, // asks Redis now, before the in-place swap
): Promise<FilesRestoreSummary> {
  const started = Date.now();
  const warnings: string[] = [];
  const stamp = request.stamp!;
  const volume = request.volumes[0]!;
  const into = request.into ?? 'beside';
  const paths = (request.paths ?? []).map((h) => Buffer.from(h, 'hex').toString('latin1'));
  const shown = paths.map(showName);
  const progress = (phase: Phase, extra: Record<string, unknown> = {}) => void job.updateProgress({ phase, volume, ...extra }).catch(() => undefined);
  const problem = chosenPathsProblem(paths); // the API's check, again where the paths meet the file system
  if (problem) throw new Error(`${problem}; nothing was done`);

  progress('check');
  const set = await ctx.store.getSet(stamp);
  const archive = set?.archives.find((a) => a.kind === 'volume' && a.volume === volume);
  if (!archive) throw new Error(`backup set ${stamp} has no archive of ${volume} any more; nothing was done`);
  const archivePath = path.join(ctx.config.backupDir, archive.file);
  const dir = await existingVolumeDir(ctx.config.volumes, volume).catch((err: Error) => {
    throw new Error(`${err.message}; nothing was done`, { cause: err });
  });
  const overlap = await overlapWithBackups(dir, ctx.config.backupDir);
  if (overlap) throw new Error(`volume ${volume} and BACKUP_DIR overlap (${overlap}); nothing was done`);
  const recovered = await recoverInterruptedRestores(dir, log);
  if (recovered.length) log.warn({ volume, actions: recovered }, 'recovered an interrupted restore');

  // What a restore of the archive reads: itself, or for an incremental its whole chain.
  const chain = await restoreChainOf(ctx.config.backupDir, archive.file).catch((err: Error) => {
    throw new Error(`${err.message}; nothing was done`, { cause: err });
  });
  const space = await chainSpace(ctx.config.backupDir, chain);
  if (into === 'in-place' && !request.skipSafetyBackup) {
    const need = safetyBackupNeed(space.archives);
    await requireSpace(ctx.config.backupDir, need, `the safety backup before the restore (about ${formatBytes(need)}; or request it with skipSafetyBackup)`);
  }
  const rootBefore = await dirTimesOf(dir);
  const dropStaging = async () => {
    await removeWorkDir(dir, request.id, log);
    await putDirTimes(dir, rootBefore).catch(() => undefined);
  };
  progress('extract');
  const staged = archive.incremental
    ? await stageFromChain(ctx, chain, stagingNeed(space, ctx.config.restoreSpaceRatio), dir, request.id, paths, { log, signal, progress, dropStaging })
    : await stageFromArchive(ctx, archivePath, dir, request.id, paths, { log, signal, progress, dropStaging });
  const { files, rootMode, linkTargets, bytes } = staged;
  const chosen = new Set(paths);
  const parentsOfChosen = new Set(paths.flatMap(parentDirs));

  // The staged paths are on disk before they replace anything or appear as a folder (also after a crash).
  const flushStaged = async () => {
    await flushFileSystems([dir]).catch(async (err: Error) => {
      await dropStaging();
      throw new Error(`flushing the restored paths to disk failed, nothing was changed: ${err.message}`, { cause: err });
    });
  };
  let target: string | null = null;
  let safetyBackupStamp: string | null = null;
  if (into === 'beside') {
    progress('swap');
    await flushStaged();
    try {
      const extras = [...linkTargets].filter((t) => chosenAncestor(chosen, t) === undefined && !parentsOfChosen.has(t));
      target = await placeBeside(dir, request.id, { folder: besideFolderName(stamp), extras, keepDirs: parentsOfChosen, mode: rootMode });
    } catch (err) {
      await dropStaging();
      throw new Error(`placing the restored paths into a new folder failed, nothing was changed: ${(err as Error).message}`, { cause: err });
    }
    log.warn({ volume, stamp, target, paths: shown }, 'paths restored beside the live data');
  } else {
    if (!request.skipSafetyBackup) {
      // The extraction's buffers go back to the system before the safety backup allocates its own.
      await releaseFreedMemory();
      try {
        progress('safety-backup');
        safetyBackupStamp = await claimSafetyStamp(ctx, `restore-${request.id}`);
        const r = await archiveVolume({
          volume, volumeDir: dir, backupDir: ctx.config.backupDir, fileName: archiveFileName(volume, safetyBackupStamp),
          gzipLevel: ctx.config.gzipLevel, logger: log, skipTopNames: [workDirName(request.id)], leaveOut: await leftoverWorkDirs(dir), signal,
          onProgress: (p) => progress('safety-backup', { ...p }),
        });
        await noteSafetyBackup(ctx.config.backupDir, r.file, request.id);
        log.info({ volume, file: r.file, size: r.size }, 'safety backup written');
      } catch (err) {
        await dropStaging();
        throw new Error(`safety backup failed, nothing was changed: ${(err as Error).message}`, { cause: err });
      }
    }
    progress('swap');
    await confirmLocks();
    signal?.throwIfAborted();
    await flushStaged();
    const hook = ctx.config.testHooks.failSwap;
    await swapPaths(dir, request.id, paths, { failAfter: hook?.volume === volume ? hook.afterRenames : undefined }).catch(async (err: Error) => {
      // Refused before anything moved: the staged copy goes now (an audit found it left for the recovery).
      if (!(err instanceof RefusedBeforeSwap)) throw err;
      await dropStaging();
      throw new Error(`${err.message}; nothing was changed`, { cause: err });
    });
    // The previous versions of the chosen paths only: removed before the restore reports itself done.
    await noteRestored(ctx.redis, ctx.config.queuePrefix, volume).catch(() => undefined);
    const leftover = await finishCommitted(dir, request.id, undefined, log);
    if (leftover) warnings.push(`${volume}: ${leftover}`);
    log.warn({ volume, stamp, paths: shown }, 'paths replaced in place by the backup');
  }

  progress('done');
  const list = shown.slice(0, 10).join(', ') + (shown.length > 10 ? ` (+${shown.length - 10})` : '');
  return {
    kind: 'files',
    stamp,
    volume,
    into,
    target,
    paths: shown,
    files,
    bytes,
    safetyBackupStamp,
    durationMs: Date.now() - started,
    restartRequired: false,
    message:
      (into === 'beside'
        ? `Restored ${list} of ${volume} from ${stamp} into the folder ${target} of the volume; nothing else was changed.`
        : `Restored ${list} of ${volume} from ${stamp} in place; nothing else was changed.` +
          (safetyBackupStamp ? ` The volume before the restore is in backup set ${safetyBackupStamp}.` : '')) +
      warnings.map((w) => ` Warning: ${w}.`).join(''),
    warnings,
  };
}

interface Staged {
  files: number;
  bytes: number;
  rootMode: number;
  /** Hard link targets outside the chosen paths that were staged only for the links' sake. */
  linkTargets: Set<string>;
}

interface StageContext {
  log: Logger;
  signal?: AbortSignal;
  progress: (phase: Phase, extra?: Record<string, unknown>) => void;
  dropStaging: () => Promise<void>;
}

/** A full: exactly the chosen entries (and what they need) from one pass over the verified archive. */
async function stageFromArchive(ctx: AppContext, archivePath: string, dir: string, id: string, paths: string[], s: StageContext): Promise<Staged> {
  const file = path.basename(archivePath);
  const { result: sel } = await withEntryIndex(archivePath, { logger: s.log, signal: s.signal }, (f, expected) => selectPaths(f, expected, paths));
  const missing = paths.filter((p) => !sel.found.has(p));
  if (missing.length) throw new Error(`not in the archive ${file}: ${missing.map(quoteName).join(', ')}; nothing was done`);
  await requireSpace(dir, Math.ceil(sel.bytes * 1.05) + 1024 * 1024, `restoring ${paths.length} path(s) (staging copy)`);

  // Extract the chosen paths, their parent directories and the link targets they need.
  const chosen = new Set(paths);
  const parentsOfChosen = new Set(paths.flatMap(parentDirs));
  const select = (rel: string) => chosenAncestor(chosen, rel) !== undefined || parentsOfChosen.has(rel) || sel.linkTargets.has(rel);
  try {
    s.log.info({ file, paths: paths.map(showName) }, 'extracting chosen paths while verifying the archive');
    const staging = await createWorkDir(dir, id); // through its descriptor, whatever a share user renames
    const { v, staged } = await (async () => {
      const v = await verifyVolumeArchive(archivePath, {
        logger: s.log, signal: s.signal, extractTo: staging.path, select,
        writers: { threads: ctx.config.restoreThreads, stallMs: Math.max(1000, Math.floor(ctx.config.jobLockMs / 4)) },
        onProgress: (p) => s.progress('extract', { ...p }),
      });
      // What is there, not the members read: a name stored twice counted twice (found by an audit).
      return { v, staged: await countChosen(staging.path, paths) };
    })().finally(() => staging.close());
    s.log.info({ files: staged.files, origin: v.origin }, 'archive verified, chosen paths extracted into staging');
    return { files: staged.files, bytes: staged.bytes, rootMode: v.extracted!.rootMeta?.mode ?? 0o755, linkTargets: sel.linkTargets };
  } catch (err) {
    await s.dropStaging();
    throw new Error(`${failedWhat(`archive ${file}`, err)}, nothing was changed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * An incremental: the whole chain restored into `<work>/chain` (verified archive by archive), the
 * chosen paths moved from there into `<work>/tree`, the rest removed.
 */
async function stageFromChain(ctx: AppContext, chain: string[], need: number, dir: string, id: string, paths: string[], s: StageContext): Promise<Staged> {
  const file = chain.at(-1)!;
  const files = chain.map((f) => path.join(ctx.config.backupDir, f));
  await requireSpace(dir, need + 1024 * 1024, `restoring ${paths.length} path(s) from the incremental ${file}, which restores its whole chain first (staging copy)`);
  try {
    s.log.info({ file, chain, paths: paths.map(showName) }, 'restoring the chain of an incremental archive to take chosen paths from it');
    // Through its descriptor, for GNU tar (which deletes what a snapshot does not list) and our moves too.
    const staging = await createWorkDir(dir, id);
    const chainDir = path.join(staging.work, 'chain');
    const taken = await (async () => {
      await restoreChain({
        files, stagingDir: chainDir, logger: s.log, signal: s.signal,
        writers: { threads: ctx.config.restoreThreads, stallMs: Math.max(1000, Math.floor(ctx.config.jobLockMs / 4)) },
        onProgress: (p) => s.progress('extract', { ...p }),
      });
      const t = await takeChosenPaths(chainDir, staging.path, paths);
      await removeTreeAtAsync(chainDir);
      return t;
    })().finally(() => staging.close());
    if (taken.missing.length) {
      throw new NotInBackup(`not in the backup of ${file} (its chain ${chain.join(', ')}): ${taken.missing.map(quoteName).join(', ')}; nothing was done`);
    }
    s.log.info({ files: taken.files, bytes: taken.bytes }, 'chain verified and restored, chosen paths taken into staging');
    return { files: taken.files, bytes: taken.bytes, rootMode: taken.rootMode, linkTargets: new Set() };
  } catch (err) {
    await s.dropStaging();
    if (err instanceof NotInBackup) throw err;
    throw new Error(`${failedWhat(`the chain of ${file}`, err)}, nothing was changed: ${(err as Error).message}`, { cause: err });
  }
}

class NotInBackup extends Error {}

/** Whether the archive or the volume's file system is to blame (write-failure.ts). */
function failedWhat(archive: string, err: unknown): string {
  return isWriteFailure(err) ? `writing the restored paths into the volume failed, not ${archive}${writeFailureHint(err)}` : `${archive} failed verification or extraction`;
}

function parentDirs(rel: string): string[] {
  const out: string[] = [];
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) out.push(rel.slice(0, i));
  return out;
}

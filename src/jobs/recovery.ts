/**
 * Restores interrupted mid-way are rolled back (or finished, if the swap had committed), staging
 * directories of extractions that never reached the swap are removed, and so are the private copies
 * of SQL files that interrupted SQL restores left in BACKUP_DIR; at start, SQL uploads nobody
 * confirmed within a day are deleted too.
 *
 * A restore that stalls (its worker was killed, or cut off from Redis for a job lock's duration)
 * is failed by BullMQ, not re-run (maxStalledCount 0 for the restore queue, see ./index.ts). Its
 * volumes may then be half swapped, so this runs at worker start and again every
 * MAINTENANCE_INTERVAL until nothing is left to recover: the dead restore's restore hold and volume
 * locks expire after VOLUME_LOCK_TTL, and a worker that restarts sooner than that must not give up.
 *
 * It takes the restore hold, so no restore can start (or be running: a live one holds it and keeps
 * renewing it) while it moves entries around, and each volume's lock, so no archive reads a volume
 * in the middle of a rollback. A restore found interrupted gets its outcome recorded beside its
 * request (GET /api/restores/:id), unless its job recorded one itself.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../runtime/context.js';
import { RESTORE_HOLD } from '../stores/queues.js';
import { RestoreRequests } from '../stores/restore-requests.js';
import { uploadsDir } from '../stores/uploads.js';
import { listVolumes } from '../engine/fs/volumes.js';
import { recoverInterruptedRestores } from '../engine/swap/recovery.js';
import { hasWorkDirs } from '../engine/swap/work-dir.js';
import { settleDeadSqlRestores, sqlRestoreCopies } from './sql-restore-copies.js';
import { enqueueSetVerification } from '../stores/verify-runs.js';

const UPLOAD_MAX_AGE_MS = 24 * 3600 * 1000;

export async function recoverAtBoot(ctx: AppContext): Promise<'done' | 'busy'> {
  const outcome = await recoverInterrupted(ctx);
  await removeOldUploads(uploadsDir(ctx.config.backupDir));
  return outcome;
}

/**
 * 'done' when no volume holds anything of an interrupted restore (any more); 'busy' when a restore
 * runs (or a dead one's locks have not expired yet), or a volume is being archived: try again later.
 */
export async function recoverInterrupted(ctx: AppContext): Promise<'done' | 'busy'> {
  const log = ctx.logger.child({ module: 'recovery' });
  const { volumes } = await listVolumes(ctx.config.volumes).catch(() => ({ volumes: {} as Record<string, string> }));
  // Cheap first look, without any lock: most of the time there is nothing to do.
  const suspects: [string, string][] = [];
  for (const [volume, dir] of Object.entries(volumes)) {
    if (await hasWorkDirs(dir)) suspects.push([volume, dir]);
  }
  // A SQL restore whose worker died left its private copy of the dump (./sql-restore-copies.ts).
  const sqlCopies = await sqlRestoreCopies(ctx.config.backupDir);
  if (suspects.length === 0 && sqlCopies.length === 0) return 'done';

  const owner = `recovery-${randomUUID()}`;
  const hold = await ctx.restoreHold.acquire(RESTORE_HOLD, owner);
  if (!hold) {
    log.debug('a restore holds the restore hold: recovery waits');
    return 'busy';
  }
  let outcome: 'done' | 'busy' = 'done';
  // The restores found interrupted: each one's safety backup is queued for verification once, after
  // every volume of it was recovered (a restore of four volumes is found in each of them).
  const dead = new Set<string>();
  try {
    // Under the hold no SQL restore runs: every copy left is a dead one's (as large as its dump).
    if (sqlCopies.length) for (const id of await settleDeadSqlRestores(ctx, log)) dead.add(id);
    for (const [volume, dir] of suspects) {
      const lock = await ctx.locks.acquire(volume, owner);
      if (!lock) {
        outcome = 'busy';
        continue;
      }
      try {
        const actions = await recoverInterruptedRestores(dir, log).catch((err: Error) => {
          log.error({ volume, err: err.message }, 'could not recover an interrupted restore; check the volume by hand');
          return [] as string[];
        });
        if (actions.length) log.warn({ volume, actions }, 'recovered interrupted restore');
        for (const id of await recordInterrupted(ctx, volume, actions)) dead.add(id);
      } finally {
        await lock.release();
      }
    }
  } finally {
    await hold.release();
  }
  for (const id of dead) {
    await verifySafetyBackupOf(ctx, id, log).catch((err: Error) => log.error({ restoreId: id, err: err.message }, 'could not queue the verification of an interrupted restore\'s safety backup'));
  }
  return outcome;
}

/**
 * recoverInterruptedRestores describes each action as `restore <id>: …`; the id is the request's.
 * Each volume's action goes into the restore's outcome. Returns the restores' ids: the caller
 * queues their safety backups for verification, which the restore that would have queued them did
 * not live to do (found by an audit: such safety backups stayed `verified: null`, while one may be
 * the only copy of the data from before the restore).
 */
async function recordInterrupted(ctx: AppContext, volume: string, actions: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const action of actions) {
    const id = /^restore (\S+): /.exec(action)?.[1];
    if (!id || !RestoreRequests.isValidId(id)) continue;
    await ctx.restores.noteInterrupted(id, `${volume}: ${action}`);
    ids.push(id);
  }
  return ids;
}

/** The safety backup archives of restore `id` (their manifest's `safetyFor`) not verified yet, queued for verification. */
async function verifySafetyBackupOf(ctx: AppContext, id: string, log: AppContext['logger']): Promise<void> {
  const archives = (await ctx.store.listArchives()).filter((a) => a.safetyFor === id && a.verified === null);
  for (const stamp of new Set(archives.map((a) => a.stamp))) {
    const set = await ctx.store.getSet(stamp);
    const unverified = set?.archives.filter((a) => archives.some((b) => b.file === a.file)) ?? [];
    if (!set || unverified.length === 0) continue;
    const jobs = await enqueueSetVerification(ctx.queues, { ...set, archives: unverified });
    log.info({ restoreId: id, stamp, verifyJobs: jobs.map((j) => j.jobId) }, 'safety backup of an interrupted restore queued for verification');
  }
}

async function removeOldUploads(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const p = path.join(dir, n);
    const st = await fs.stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > UPLOAD_MAX_AGE_MS) await fs.rm(p, { force: true });
  }
}

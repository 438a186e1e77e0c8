/**
 * The restore job: runs only after a confirmation, one at a time (its queue has concurrency 1).
 * It takes the restore hold (scheduled runs wait) and the locks of everything it replaces (no
 * archive or prune of those volumes can run meanwhile), then hands over to the set or SQL pipeline.
 */
import { DelayedError, type Job } from 'bullmq';
import type { AppContext } from '../context.js';
import { RESTORE_HOLD, type RestoreJobData } from '../lib/queues.js';
import type { HeldLock } from '../lib/volume-lock.js';
import { restoreSet, type SetRestoreSummary } from './restore-set.js';
import { restoreSql, type SqlRestoreSummary } from './restore-sql.js';

const LOCK_RETRY_MS = 5000;

export function makeRestoreProcessor(ctx: AppContext) {
  return async (job: Job<RestoreJobData>, token?: string): Promise<SetRestoreSummary | SqlRestoreSummary> => {
    const request = await ctx.restores.get(job.data.restoreId);
    if (!request) throw new Error(`restore request ${job.data.restoreId} not found (expired from Redis?)`);
    const log = ctx.logger.child({ module: 'restore', restoreId: request.id, kind: request.kind, stamp: request.stamp });
    const owner = String(job.id);

    const held: HeldLock[] = [];
    const releaseAll = () => Promise.all(held.map((l) => l.release()));
    const take = async (lock: Promise<HeldLock | undefined>) => {
      const l = await lock;
      if (l) held.push(l);
      return l !== undefined;
    };
    // The hold first, so no new run starts while we wait for running archives to let go.
    let all = await take(ctx.restoreHold.acquire(RESTORE_HOLD, owner));
    for (const v of request.kind === 'set' ? request.volumes : []) all = all && (await take(ctx.locks.acquire(v, owner)));
    if (request.kind === 'sql') all = all && (await take(ctx.dbLocks.acquire(ctx.config.db?.database ?? 'db', owner)));
    if (!all) {
      await releaseAll();
      log.info('waiting for running backups of these volumes to finish');
      await job.moveToDelayed(Date.now() + LOCK_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      log.warn({ volumes: request.volumes }, 'restore started');
      const summary = request.kind === 'set' ? await restoreSet(ctx, job, request, log) : await restoreSql(ctx, job, request, log);
      log.warn({ durationMs: summary.durationMs }, summary.message);
      return summary;
    } catch (err) {
      log.error({ err: (err as Error).message }, 'restore failed');
      throw err;
    } finally {
      await releaseAll();
    }
  };
}

/** GET /api/backups[/:stamp] list sets from BACKUP_DIR; POST /api/backups is "run now". */
import { randomUUID } from 'node:crypto';
import { formatStamp, isValidStamp, isValidVolumeName } from '../../core/names.js';
import { RunConflictError, startRun } from '../../stores/backup-runs.js';
import { pausedQueues, runQueues } from '../../stores/paused-queues.js';
import { RESTORE_HOLD } from '../../stores/queues.js';
import { selectRunVolumes, UnknownVolumeError } from '../../engine/fs/volumes.js';
import type { Handler } from '../handler.js';
import { badRequest, conflict, notFound } from '../http-error.js';

export const listBackups: Handler = async (ctx) => ({ status: 200, body: { sets: await ctx.store.listSets({ shared: true }) } });

export const getBackup: Handler = async (ctx, req) => {
  const stamp = req.params.stamp ?? '';
  if (!isValidStamp(stamp)) throw badRequest(`"${stamp}" is not a stamp like 2026-11-21-0315`, 'stamp');
  const set = await ctx.store.getSet(stamp, { shared: true });
  if (!set) throw notFound(`no backup set ${stamp}`);
  return { status: 200, body: set };
};

export const runNow: Handler = async (ctx, req) => {
  const requested = parseVolumes(req.body);
  const stamp = formatStamp(ctx.clock.now(), ctx.config.timezone);
  // The three reads are independent: asked at once, so that a click waits for one round trip, not
  // three (in the all-in-one process every await also waits for the archive's share of the loop).
  const [selected, restoring, { keep }, paused] = await Promise.all([
    selectRunVolumes(ctx.config.volumes, requested).catch((err: unknown) => err as Error),
    ctx.restoreHold.holder(RESTORE_HOLD),
    ctx.schedules.get(),
    pausedQueues(ctx.queues),
  ]);
  if (selected instanceof UnknownVolumeError) throw badRequest(selected.message, 'volumes');
  if (selected instanceof Error) throw selected;
  const volumes = selected;
  if (Object.keys(volumes).length === 0) throw conflict('no_volumes', 'there is no volume to back up');
  if (restoring) throw conflict('restore_running', 'a restore is running; start the backup after it has finished');
  const blocking = runQueues(!requested && ctx.config.db !== undefined).filter((q) => paused.includes(q));
  if (blocking.length) {
    throw conflict('queue_paused', `the ${blocking.join(', ')} queue${blocking.length > 1 ? 's are' : ' is'} paused (dashboard, /admin/queues): resume it there, then start the backup`);
  }
  try {
    const run = await startRun(
      { redis: ctx.redis, prefix: ctx.config.queuePrefix, queues: ctx.queues, store: ctx.store, archiveAttempts: ctx.config.archiveAttempts },
      { stamp, volumes, keep, trigger: 'manual', owner: `manual-${randomUUID()}`, dumpName: requested ? undefined : ctx.config.db?.dumpName },
    );
    ctx.logger.info({ module: 'api', stamp, volumes: Object.keys(volumes) }, 'backup run started by request');
    return { status: 202, body: run };
  } catch (err) {
    if (err instanceof RunConflictError) throw conflict(err.code, err.message);
    throw err;
  }
};

function parseVolumes(body: unknown): string[] | undefined {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object like {"volumes": ["elexisdb"]}', 'body');
  const extra = Object.keys(body).filter((k) => k !== 'volumes');
  if (extra.length) throw badRequest(`unknown field "${extra[0]}"; only "volumes" is accepted`, extra[0]);
  const v = (body as { volumes?: unknown }).volumes;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && isValidVolumeName(x))) {
    throw badRequest('volumes must be a non-empty list of volume names like ["elexisdb", "pacsdata"]', 'volumes');
  }
  return [...new Set(v as string[])];
}

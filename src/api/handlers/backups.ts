/** GET /api/backups[/:stamp] list sets from BACKUP_DIR; POST /api/backups is "run now". */
import { randomUUID } from 'node:crypto';
import { formatStamp } from '../../core/names.js';
import { RunConflictError, startRun } from '../../stores/backup-runs.js';
import { pausedQueues, runQueues } from '../../stores/paused-queues.js';
import { RESTORE_HOLD } from '../../stores/queues.js';
import { selectRunVolumes, UnknownVolumeError } from '../../engine/fs/volumes.js';
import type { Handler } from '../handler.js';
import type { BackupSet } from '../../stores/backup-store.js';
import { listedCopy, presentCopies } from '../../stores/offsite-copies.js';
import { remoteArchives, withRemoteArchives } from '../remote-sets.js';
import { badRequest, conflict, notFound } from '../http-error.js';
import { runBackupBody, stampParams } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

export const listBackups: Handler = async (ctx) => {
  const local = await withCopies(ctx, await ctx.store.listSets({ shared: true }));
  if (!ctx.config.offsite) return { status: 200, body: { sets: local } };
  // Sets found only on the targets (a new server, an empty BACKUP_DIR), marked `remote: true`.
  const remote = await remoteArchives(ctx);
  const sets = withRemoteArchives(local, remote.archives, ctx.config.timezone);
  return { status: 200, body: { sets, ...(remote.errors.length ? { remoteErrors: remote.errors } : {}) } };
};

export const getBackup: Handler = async (ctx, req) => {
  const { stamp } = parseRequest(stampParams, req.params, 'path');
  const set = await ctx.store.getSet(stamp, { shared: true });
  const local = set ? await withCopies(ctx, [set]) : [];
  // With the archives found only on the off-site targets (disaster recovery), as the listing shows them.
  const found = ctx.config.offsite ? withRemoteArchives(local, (await remoteArchives(ctx)).archives.filter((a) => a.stamp === stamp), ctx.config.timezone)[0] : local[0];
  if (!found) throw notFound(`no backup set ${stamp}`);
  return { status: 200, body: found };
};

/**
 * Each archive with `copies`: where its off-site copies are and when each was last verified. They
 * are in Redis: while Redis is away the listing, read from BACKUP_DIR, is answered without them
 * (an audit found it answering 503 where the README promises it keeps working).
 */
async function withCopies(ctx: Parameters<Handler>[0], sets: BackupSet[]) {
  const records = await ctx.copies.forFiles(sets.flatMap((s) => s.archives.map((a) => a.file))).catch((err: Error) => {
    ctx.logger.warn({ module: 'api', err: err.message }, 'off-site copies not listed: Redis is away');
    return undefined;
  });
  if (!records) return sets;
  return sets.map((s) => ({ ...s, archives: s.archives.map((a) => ({ ...a, copies: presentCopies(records.get(a.file)).map(listedCopy) })) }));
}

export const runNow: Handler = async (ctx, req) => {
  // No body or {}: every volume, and the database.
  const requested = parseRequest(runBackupBody, req.body, 'body')?.volumes;
  const stamp = formatStamp(ctx.clock.now(), ctx.config.timezone);
  // The reads are independent: asked at once, so that a click waits for one round trip, not
  // several (in the all-in-one process every await also waits for the archive's share of the loop).
  const [selected, restoring, paused] = await Promise.all([
    selectRunVolumes(ctx.config.volumes, requested).catch((err: unknown) => err as Error),
    ctx.restoreHold.holder(RESTORE_HOLD),
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
      { stamp, volumes, trigger: 'manual', owner: `manual-${randomUUID()}`, dumpName: requested ? undefined : ctx.config.db?.dumpName },
    );
    ctx.logger.info({ module: 'api', stamp, volumes: Object.keys(volumes) }, 'backup run started by request');
    return { status: 202, body: run };
  } catch (err) {
    if (err instanceof RunConflictError) throw conflict(err.code, err.message);
    throw err;
  }
};

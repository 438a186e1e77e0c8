/**
 * GET /api/volumes: what the main screen shows per volume — its size, archive mode (issue 16),
 * newest archive (size, verification, warnings, size drop, level) and whether it is overdue — and
 * the free space of BACKUP_DIR. A volume that was never backed up is listed too (lastArchive null),
 * and so is the database dump when DB_HOST is set: the backup listing alone cannot show what is
 * missing. PUT /api/volumes/:name sets a volume's mode.
 *
 * The size is a walk of the volume (file bytes, hard links once), done by this API process and
 * kept for SIZE_TTL_MS: the main screen polls, and a walk of a large PACS store takes seconds.
 */
import fs from 'node:fs/promises';
import { toCronPattern } from '../../core/cron.js';
import { stampToDate } from '../../core/names.js';
import { overdueVolumes, type OverdueVolume } from '../../core/overdue.js';
import type { AppContext } from '../../runtime/context.js';
import { listVolumes as volumeDirs } from '../../engine/fs/volumes.js';
import { treeSize } from '../../engine/archive/tree-size.js';
import type { StoredArchive } from '../../stores/backup-store.js';
import { DEFAULT_FULL_EVERY, type VolumeMode } from '../../stores/volume-modes.js';
import { scheduleSince } from '../../stores/schedule-store.js';
import type { Handler } from '../handler.js';
import { notFound } from '../http-error.js';
import { volumeModeBody, volumeParams } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

const SIZE_TTL_MS = 5 * 60_000;
const sizes = new Map<string, { at: number; bytes: Promise<number | null> }>();

function sizeOf(dir: string): Promise<number | null> {
  const cached = sizes.get(dir);
  if (cached && Date.now() - cached.at < SIZE_TTL_MS) return cached.bytes;
  const bytes = treeSize(dir, undefined, new Set()).catch(() => null);
  sizes.set(dir, { at: Date.now(), bytes });
  return bytes;
}

interface Listed {
  name: string;
  kind: 'volume' | 'sql';
  dir?: string;
  /** Why its directory cannot be reached (a symlink that leads nowhere: a disk not mounted). */
  unreachable?: string;
}

/** Every volume, then the database dump (DB_HOST set). */
async function listed(ctx: AppContext): Promise<Listed[]> {
  // The logger: an entry of VOLUMES_DIR that is no volume is named in the log (once per process).
  const { volumes, unreachable } = await volumeDirs(ctx.config.volumes, ctx.logger);
  const why = new Map(unreachable.map((u) => [u.name, u.reason]));
  return [
    ...Object.entries(volumes).map(([name, dir]) => ({ name, kind: 'volume' as const, dir, unreachable: why.get(name) })),
    ...(ctx.config.db ? [{ name: ctx.config.db.dumpName, kind: 'sql' as const }] : []),
  ];
}

/** The newest archive of each volume (or dump). */
function newestByVolume(archives: StoredArchive[]): Map<string, StoredArchive> {
  const newest = new Map<string, StoredArchive>();
  for (const a of archives) if (a.stamp > (newest.get(a.volume)?.stamp ?? '')) newest.set(a.volume, a);
  return newest;
}

/** The same rule as the workers' overdue alert (jobs/overdue-check.ts), so screen and alert agree. */
async function overdueOf(ctx: AppContext, items: Listed[], archives: StoredArchive[]): Promise<OverdueVolume[]> {
  const schedule = await ctx.schedules.get();
  if (!schedule.enabled) return [];
  // An archive that failed its verification is no success.
  const newest = newestByVolume(archives.filter((a) => a.verified?.ok !== false));
  return overdueVolumes({
    pattern: toCronPattern(schedule),
    timezone: ctx.config.timezone,
    now: ctx.clock.now(),
    lastSuccessByVolume: Object.fromEntries(
      items.map(({ name }) => [name, newest.has(name) ? stampToDate(newest.get(name)!.stamp, ctx.config.timezone) : undefined]),
    ),
    graceMs: ctx.config.overdueGraceMs,
    since: await scheduleSince(ctx.redis, ctx.config.queuePrefix, ctx.clock.now()),
  });
}

async function views(ctx: AppContext, items: Listed[]) {
  const [archives, modes, bytes] = await Promise.all([
    ctx.store.listArchives({ shared: true }),
    ctx.volumeModes.all(items.filter((i) => i.kind === 'volume').map((i) => i.name)),
    Promise.all(items.map((i) => (i.dir === undefined || i.unreachable ? Promise.resolve(null) : sizeOf(i.dir)))),
  ]);
  const newest = newestByVolume(archives);
  const overdue = await overdueOf(ctx, items, archives);
  return items.map(({ name, kind, unreachable }, i) => {
    const mode = kind === 'volume' ? modes.get(name) : undefined;
    const late = overdue.find((o) => o.volume === name);
    return {
      name,
      kind,
      size: bytes[i] ?? null,
      mode: mode?.mode ?? 'full',
      fullEvery: mode?.fullEvery ?? null,
      fullOn: mode?.fullOn ?? null,
      lastArchive: newest.get(name) ?? null,
      overdue: late ? { expectedBy: late.expectedBy.toISOString(), lastSuccess: late.lastSuccess?.toISOString() ?? null } : null,
      unreachable: unreachable ?? null,
    };
  });
}

export const listVolumes: Handler = async (ctx) => {
  const [volumes, disk] = await Promise.all([listed(ctx).then((items) => views(ctx, items)), fs.statfs(ctx.config.backupDir).catch(() => undefined)]);
  return {
    status: 200,
    body: { volumes, backupDir: disk ? { freeBytes: disk.bavail * disk.bsize, totalBytes: disk.blocks * disk.bsize } : null },
  };
};

export const putVolumeMode: Handler = async (ctx, req) => {
  const { name } = parseRequest(volumeParams, req.params, 'path');
  const body = parseRequest(volumeModeBody, req.body, 'body');
  const items = (await listed(ctx)).filter((i) => i.kind === 'volume');
  const item = items.find((i) => i.name === name);
  if (!item) throw notFound(`no volume ${name}; known: ${items.map((i) => i.name).join(', ') || '(none)'}`);
  const before = await ctx.volumeModes.get(name);
  const fullOn = body.fullOn === undefined ? before.fullOn : body.fullOn === null ? null : body.fullOn % 7;
  const mode: VolumeMode = { mode: body.mode, fullEvery: body.fullEvery ?? (before.fullEvery || DEFAULT_FULL_EVERY), fullOn };
  await ctx.volumeModes.put(name, mode);
  ctx.logger.info({ module: 'api', volume: name, ...mode }, 'volume archive mode saved');
  return { status: 200, body: (await views(ctx, [item]))[0] };
};

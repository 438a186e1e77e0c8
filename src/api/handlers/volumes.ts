/**
 * GET /api/volumes: what the main screen's overview shows per volume — its newest archive (size,
 * verification, warnings, size drop) and whether it is overdue — and the free space of BACKUP_DIR.
 * A volume that was never backed up is listed too (lastArchive null), and so is the database dump
 * when DB_HOST is set: the backup listing alone cannot show what is missing.
 */
import fs from 'node:fs/promises';
import { toCronPattern } from '../../core/cron.js';
import { stampToDate } from '../../core/names.js';
import { overdueVolumes } from '../../core/overdue.js';
import type { StoredArchive } from '../../stores/backup-store.js';
import { listVolumes } from '../../engine/fs/volumes.js';
import type { Handler } from '../handler.js';

export const listVolumeStates: Handler = async (ctx) => {
  const [{ volumes }, archives, schedule, disk] = await Promise.all([
    listVolumes(ctx.config.volumes),
    ctx.store.listArchives({ shared: true }),
    ctx.schedules.get(),
    fs.statfs(ctx.config.backupDir).catch(() => undefined),
  ]);
  const names: { name: string; kind: 'volume' | 'sql' }[] = [
    ...Object.keys(volumes).map((name) => ({ name, kind: 'volume' as const })),
    ...(ctx.config.db ? [{ name: ctx.config.db.dumpName, kind: 'sql' as const }] : []),
  ];
  const newest = new Map<string, StoredArchive>();
  for (const a of archives) {
    if (a.stamp > (newest.get(a.volume)?.stamp ?? '')) newest.set(a.volume, a);
  }
  // The same rule as the workers' overdue alert (jobs/overdue-check.ts), so screen and alert agree.
  const overdue = schedule.enabled
    ? overdueVolumes({
        pattern: toCronPattern(schedule),
        timezone: ctx.config.timezone,
        now: ctx.clock.now(),
        lastSuccessByVolume: Object.fromEntries(names.map(({ name }) => [name, newest.has(name) ? stampToDate(newest.get(name)!.stamp, ctx.config.timezone) : undefined])),
        graceMs: ctx.config.overdueGraceMs,
      })
    : [];
  return {
    status: 200,
    body: {
      volumes: names.map(({ name, kind }) => {
        const late = overdue.find((o) => o.volume === name);
        return {
          name,
          kind,
          lastArchive: newest.get(name) ?? null,
          overdue: late ? { expectedBy: late.expectedBy.toISOString(), lastSuccess: late.lastSuccess?.toISOString() ?? null } : null,
        };
      }),
      backupDir: disk ? { freeBytes: disk.bavail * disk.bsize, totalBytes: disk.blocks * disk.bsize } : null,
    },
  };
};

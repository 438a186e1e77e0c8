/**
 * The overdue check: every OVERDUE_CHECK_INTERVAL, each volume's newest archive is compared with
 * the schedule. When the last tick (older than the grace time) has no archive of a volume, a
 * `backup.overdue` alert goes out — once per volume and tick, whichever worker notices first.
 * This catches what no failed job reports: a scheduler that stopped, workers that are all down
 * on another host, a volume that was never backed up.
 */
import type { AppContext } from '../runtime/context.js';
import { toCronPattern } from '../core/cron.js';
import { stampToDate } from '../core/names.js';
import { overdueVolumes } from '../core/overdue.js';
import { makeAlert } from '../stores/notifier.js';
import { scheduleSince } from '../stores/schedule-store.js';
import { listVolumes } from '../engine/fs/volumes.js';

const ALERT_MEMORY_S = 30 * 24 * 3600;

export async function checkOverdue(ctx: AppContext, now = ctx.clock.now()): Promise<string[]> {
  const schedule = await ctx.schedules.get();
  if (!schedule.enabled) return [];
  const { volumes } = await listVolumes(ctx.config.volumes);
  const names = [...Object.keys(volumes), ...(ctx.config.db ? [ctx.config.db.dumpName] : [])];
  const newest = new Map<string, string>();
  for (const a of await ctx.store.listArchives()) {
    // An archive that failed its verification is no success: the volume is still due.
    if (a.verified?.ok === false) continue;
    if (!(a.stamp <= (newest.get(a.volume) ?? ''))) newest.set(a.volume, a.stamp);
  }
  const lastSuccessByVolume = Object.fromEntries(
    names.map((v) => [v, newest.has(v) ? stampToDate(newest.get(v)!, ctx.config.timezone) : undefined]),
  );
  const overdue = overdueVolumes({
    pattern: toCronPattern(schedule),
    timezone: ctx.config.timezone,
    now,
    lastSuccessByVolume,
    graceMs: ctx.config.overdueGraceMs,
    since: await scheduleSince(ctx.redis, ctx.config.queuePrefix, now),
  });
  const alerted: string[] = [];
  for (const o of overdue) {
    const key = `${ctx.config.queuePrefix}:oob-overdue:${o.volume}:${o.expectedBy.getTime()}`;
    if ((await ctx.redis.set(key, '1', 'EX', ALERT_MEMORY_S, 'NX')) !== 'OK') continue;
    ctx.logger.error({ module: 'overdue', volume: o.volume, expectedBy: o.expectedBy, lastSuccess: o.lastSuccess }, 'backup overdue');
    ctx.notifier.notify(
      makeAlert({
        event: 'backup.overdue',
        volume: o.volume,
        reason: `no archive of ${o.volume} since ${o.lastSuccess?.toISOString() ?? 'ever'}; one was due at ${o.expectedBy.toISOString()}`,
        details: { expectedBy: o.expectedBy.toISOString(), lastSuccess: o.lastSuccess?.toISOString() ?? null },
      }),
    );
    alerted.push(o.volume);
  }
  return alerted;
}

export function startOverdueChecks(ctx: AppContext): () => void {
  const run = () =>
    void checkOverdue(ctx).then(
      (alerted) => ctx.logger.debug({ module: 'overdue', alerted }, 'overdue check done'),
      (err: Error) => ctx.logger.warn({ module: 'overdue', err: err.message }, 'overdue check failed'),
    );
  const timer = setInterval(run, ctx.config.overdueCheckIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The stamp of a safety backup made right before a restore: the current minute, claimed like a
 * run's stamp so "run now" in the same minute is refused. If the minute is taken (a backup ran a
 * moment ago), wait for the next one rather than overwrite or invent a name.
 */
import type { AppContext } from '../runtime/context.js';
import { nextMinute } from '../core/clock.js';
import { formatStamp } from '../core/names.js';
import { claimStamp } from '../stores/backup-runs.js';

export async function claimSafetyStamp(ctx: AppContext, owner: string, signal?: AbortSignal): Promise<string> {
  for (let tries = 0; tries < 3; tries++) {
    const now = ctx.clock.now();
    const stamp = formatStamp(now, ctx.config.timezone);
    const claim = await claimStamp(ctx.redis, ctx.config.queuePrefix, stamp, owner);
    if (claim === 'mine' || (claim === 'new' && !(await ctx.store.hasSet(stamp)))) return stamp;
    ctx.logger.info({ module: 'restore', stamp, owner }, 'safety backup waits for the next minute: this one has a set');
    await ctx.clock.sleepUntil(new Date(nextMinute(now).getTime() + 50));
    signal?.throwIfAborted();
  }
  throw new Error('could not find a free minute for the safety backup');
}

/**
 * The stamp of a safety backup made right before a restore: the current minute, claimed like a
 * run's stamp so "run now" in the same minute is refused. If the minute is taken (a backup ran a
 * moment ago), wait for the next one rather than overwrite or invent a name.
 */
import type { AppContext } from '../runtime/context.js';
import { formatStamp } from '../core/names.js';
import { claimStamp } from '../stores/backup-runs.js';

export async function claimSafetyStamp(ctx: AppContext, owner: string, signal?: AbortSignal): Promise<string> {
  for (let tries = 0; tries < 3; tries++) {
    const stamp = formatStamp(new Date(), ctx.config.timezone);
    const claim = await claimStamp(ctx.redis, ctx.config.queuePrefix, stamp, owner);
    if (claim === 'mine' || (claim === 'new' && !(await ctx.store.hasSet(stamp)))) return stamp;
    const untilNextMinute = 60_000 - (Date.now() % 60_000) + 50;
    await new Promise((r) => setTimeout(r, untilNextMinute));
    signal?.throwIfAborted();
  }
  throw new Error('could not find a free minute for the safety backup');
}

/**
 * What every worker checks every MAINTENANCE_INTERVAL (default a minute), beside its jobs:
 * - the job schedulers match the stored schedule: one lost with an emptied Redis, removed or
 *   changed by hand, comes back by itself (reconcileSchedulers repairs only what differs);
 * - the settings' copies beside the backups match Redis (stores/settings-mirror.ts);
 * - no volume holds the leftovers of an interrupted restore (./recovery.ts): a restore whose worker
 *   died is rolled back or forward as soon as its locks have expired;
 * - the off-site copy records exist: after Redis lost its data they are rebuilt from the targets
 *   (./copy-rebuild.ts; one key read when nothing is missing).
 * All are idempotent, so any number of workers may run them.
 */
import type { AppContext } from '../runtime/context.js';
import { reconcileSchedulers } from '../stores/schedule-store.js';
import { recoverInterrupted } from './recovery.js';
import { syncSettingsCopies } from '../runtime/boot.js';
import { rebuildCopyRecords } from './copy-rebuild.js';

export async function maintain(ctx: AppContext): Promise<void> {
  const log = ctx.logger.child({ module: 'maintenance' });
  const [run, verify] = await Promise.all([ctx.schedules.get(), ctx.verifySchedules.get()]);
  const repairs = await reconcileSchedulers(ctx.queues.schedule, run, verify, ctx.config.timezone);
  if (Object.keys(repairs).length) log.warn({ repairs }, 'job scheduler did not match the stored schedule; repaired');
  await syncSettingsCopies(ctx).catch((err: Error) => log.warn({ err: err.message }, 'could not write the settings\' copies beside the backups'));
  await rebuildCopyRecords(ctx).catch((err: Error) => log.warn({ err: err.message }, 'could not rebuild the off-site copy records'));
  const recovery = await recoverInterrupted(ctx);
  if (recovery === 'busy') log.debug('interrupted restore not recovered yet (its locks are held)');
}

/** Returns a stop function. One check at a time: a slow one is not overlapped by the next. */
export function startMaintenance(ctx: AppContext): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    maintain(ctx)
      .catch((err: Error) => ctx.logger.warn({ module: 'maintenance', err: err.message }, 'maintenance check failed'))
      .finally(() => (running = false));
  }, ctx.config.maintenanceIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

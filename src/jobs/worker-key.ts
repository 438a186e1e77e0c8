/**
 * This worker process's own age key pair for restores confirmed with `ageIdentity`
 * (stores/identity-channel.ts): made at start, the private half in memory only, the public half
 * announced in Redis and renewed while the worker lives. Only with OFFSITE_TARGETS set, and only
 * where `age-keygen` is installed; without it the worker says so and restores of encrypted copies
 * need OFFSITE_AGE_IDENTITY_FILE.
 */
import { randomUUID } from 'node:crypto';
import { generateIdentity } from '../engine/offsite/age.js';
import type { AppContext } from '../runtime/context.js';
import type { Logger } from '../runtime/logger.js';
import type { WorkerKey } from './restore-job.js';

export async function announceWorkerKey(ctx: AppContext, log: Logger): Promise<(WorkerKey & { withdraw(): Promise<void> }) | undefined> {
  if (!ctx.config.offsite) return undefined;
  let key: { identity: string; recipient: string };
  try {
    key = await generateIdentity();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no age key for this worker: restores of encrypted copies need OFFSITE_AGE_IDENTITY_FILE');
    return undefined;
  }
  const workerId = randomUUID();
  const every = ctx.config.maintenanceIntervalMs;
  const announce = () => ctx.identities.announce(workerId, key.recipient, every * 3).catch((err: Error) => log.warn({ err: err.message }, 'could not announce the worker\'s age key'));
  await announce();
  const timer = setInterval(() => void announce(), every);
  timer.unref();
  return {
    identity: key.identity,
    async withdraw() {
      clearInterval(timer);
      await ctx.identities.withdraw(workerId).catch(() => undefined);
    },
  };
}

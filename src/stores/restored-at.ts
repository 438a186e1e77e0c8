/**
 * When a restore last replaced a volume's data (or the database's: the name is then the database's
 * lock name). A run started before the restore whose archive reached the volume only after it (it
 * waited for the restore's lock) would archive the restored data under the minute before the
 * restore: a set that says it holds data it does not, which then pushed the restored set out of
 * `keep` (found by an audit). Archive and dump jobs refuse that case (jobs/archive-job.ts).
 * Times are the wall clock's milliseconds, as BullMQ stamps a job's creation.
 */
import type { Redis } from 'ioredis';

/** Longer than any run's jobs may wait (jobs/run-claim-check.ts RUN_STALE_MS is a day). */
const TTL_S = 3 * 24 * 3600;

const key = (prefix: string, name: string) => `${prefix}:oob-restored-at:${name}`;

export async function noteRestored(redis: Redis, prefix: string, name: string, at = Date.now()): Promise<void> {
  await redis.set(key(prefix, name), String(at), 'EX', TTL_S);
}

export async function lastRestored(redis: Redis, prefix: string, name: string): Promise<number | undefined> {
  const v = await redis.get(key(prefix, name));
  const at = v === null ? NaN : Number(v);
  return Number.isFinite(at) ? at : undefined;
}

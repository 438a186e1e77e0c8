/**
 * What the API and the workers share: the validated config, a logger, one Redis connection and the
 * small side-effect modules built on it. Built once per process and handed down, never imported
 * as globals, so tests can build one per queue prefix.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import { clockFor } from './clock.js';
import type { Config } from './config.js';
import { BackupStore } from '../stores/backup-store.js';
import { rateLimitedWarn, type Logger } from './logger.js';
import { Notifier } from '../stores/notifier.js';
import { OffsiteCopies } from '../stores/offsite-copies.js';
import { IdentityChannel } from '../stores/identity-channel.js';
import { openQueues, type Queues } from '../stores/queues.js';
import { createApiRedis, createRedis } from '../stores/redis.js';
import { RestoreRequests } from '../stores/restore-requests.js';
import { scheduleStore, verifyScheduleStore, type ScheduleStore, type VerifyScheduleStore } from '../stores/schedule-store.js';
import { VolumeLocks } from '../stores/volume-lock.js';
import { VolumeModes } from '../stores/volume-modes.js';
import { SETTINGS_DIR, SettingsMirror } from '../stores/settings-mirror.js';

export interface AppContext {
  config: Config;
  logger: Logger;
  /** "Now" for stamps, catch-up, overdue checks and restore expiry: the system time, or a test's (clock.ts). */
  clock: Clock;
  redisUrl: string;
  redis: Redis;
  queues: Queues;
  store: BackupStore;
  schedules: ScheduleStore;
  verifySchedules: VerifyScheduleStore;
  /** Per volume: full or incremental archives (issue 16). */
  volumeModes: VolumeModes;
  locks: VolumeLocks;
  /** Held (name `active`) while a restore runs: scheduled and manual runs wait for it. */
  restoreHold: VolumeLocks;
  dbLocks: VolumeLocks;
  restores: RestoreRequests;
  /** Where each archive's off-site copies are (OFFSITE_TARGETS). */
  copies: OffsiteCopies;
  /** Hands an age identity from the confirmation to the restore's worker, sealed (identity-channel.ts). */
  identities: IdentityChannel;
  /** Webhook alerts, queued in `alerts`; does nothing when no NOTIFY_WEBHOOK_URL is configured. */
  notifier: Notifier;
  close(): Promise<void>;
}

/** `failFast`: the API's context, on a connection that fails instead of waiting (see createApiRedis). */
export async function createContext(config: Config, logger: Logger, redisUrl: string, opts: { failFast?: boolean } = {}): Promise<AppContext> {
  await fs.mkdir(config.backupDir, { recursive: true });
  const redis = opts.failFast ? createApiRedis(redisUrl, config.redisTlsCaFile) : createRedis(redisUrl, {}, config.redisTlsCaFile);
  const redisWarn = rateLimitedWarn(logger, 'redis connection error');
  redis.on('error', (err) => redisWarn(err));
  redis.on('ready', () => logger.info('redis connection ready'));
  const queueWarn = rateLimitedWarn(logger, 'queue error (Redis unreachable?)');
  const queues = openQueues(redis, config.queuePrefix, (err) => queueWarn(err));
  const notifier = new Notifier({
    queue: queues.alerts,
    urls: config.notify.webhookUrls,
    on: config.notify.on,
    attempts: config.notify.attempts,
    logger: logger.child({ module: 'notifier' }),
  });
  const clock = clockFor(config.testHooks.clock);
  // A damaged copy is read at every poll of the screens and every maintenance check: said once per process.
  const saidInvalid = new Set<string>();
  const mirror = new SettingsMirror(
    path.join(config.backupDir, SETTINGS_DIR),
    (setting, file) => logger.warn({ setting, file }, 'setting missing from Redis (its data was lost): taken back from its copy beside the backups'),
    (setting, why) => void (!saidInvalid.has(why) && saidInvalid.add(why) && logger.error({ setting }, why)),
  );
  return {
    config,
    logger,
    clock,
    redisUrl,
    redis,
    queues,
    store: new BackupStore(config.backupDir, config.timezone),
    schedules: scheduleStore(redis, config.queuePrefix, mirror),
    verifySchedules: verifyScheduleStore(redis, config.queuePrefix, mirror),
    volumeModes: new VolumeModes(redis, config.queuePrefix, mirror),
    locks: new VolumeLocks(redis, config.queuePrefix, config.volumeLockTtlMs),
    restoreHold: new VolumeLocks(redis, config.queuePrefix, config.volumeLockTtlMs, 'restore'),
    dbLocks: new VolumeLocks(redis, config.queuePrefix, config.volumeLockTtlMs, 'db'),
    restores: new RestoreRequests(redis, config.queuePrefix, config.restoreConfirmTtlMs, clock),
    copies: new OffsiteCopies(redis, config.queuePrefix),
    identities: new IdentityChannel(redis, config.queuePrefix),
    notifier,
    async close() {
      await notifier.flush(5000);
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * The backup schedule lives in Redis (one JSON value) so every API and worker process sees the same
 * one, and the BullMQ job scheduler is derived from it. Until an admin saves one, the seed's example
 * applies: Monday to Friday at 03:15, 10 generations, enabled — a backup service that backs up
 * nothing until someone finds the settings page is the worse default for a practice.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { toCronPattern, type CronFields, type ScheduleInput } from '../core/cron.js';
import { RUN_SCHEDULER_ID, VERIFY_SCHEDULER_ID, type RunJobData } from './queues.js';

export interface Schedule extends ScheduleInput {
  enabled: boolean;
}

export const DEFAULT_SCHEDULE: Schedule = {
  minute: '15',
  hour: '3',
  day: '*',
  month: '*',
  weekday: '1-5',
  keep: 10,
  enabled: true,
};

/** Verification of the newest set; default Sundays 05:00, after the night's backups. */
export interface VerifySchedule extends CronFields {
  enabled: boolean;
}

export const DEFAULT_VERIFY_SCHEDULE: VerifySchedule = { minute: '0', hour: '5', day: '*', month: '*', weekday: '0', enabled: true };

/** One JSON settings value in Redis, with defaults for what was never saved. */
export class SettingsStore<T extends object> {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly name: string,
    private readonly defaults: T,
  ) {}

  private get key(): string {
    return `${this.prefix}:oob-settings:${this.name}`;
  }

  async get(): Promise<T> {
    const raw = await this.redis.get(this.key);
    if (raw === null) return { ...this.defaults };
    return { ...this.defaults, ...(JSON.parse(raw) as Partial<T>) };
  }

  async put(value: T): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(value));
  }
}

export type ScheduleStore = SettingsStore<Schedule>;
export type VerifyScheduleStore = SettingsStore<VerifySchedule>;

export const scheduleStore = (redis: Redis, prefix: string): ScheduleStore => new SettingsStore(redis, prefix, 'schedule', DEFAULT_SCHEDULE);
export const verifyScheduleStore = (redis: Redis, prefix: string): VerifyScheduleStore =>
  new SettingsStore(redis, prefix, 'verify-schedule', DEFAULT_VERIFY_SCHEDULE);

/**
 * Makes the job scheduler match the stored schedule: exactly one scheduler when enabled, none when
 * disabled. Every process calls this at boot; upserting the same pattern again is harmless.
 */
export async function syncRunScheduler(queue: Queue, schedule: Schedule, timezone: string): Promise<void> {
  if (!schedule.enabled) {
    await queue.removeJobScheduler(RUN_SCHEDULER_ID);
    return;
  }
  await upsertRunScheduler(queue, { pattern: toCronPattern(schedule), tz: timezone });
}

/** Exposed so tests can fire the real run job template on a seconds-level pattern or `every`. */
export async function upsertRunScheduler(
  queue: Queue,
  repeat: { pattern: string; tz: string } | { every: number },
): Promise<void> {
  const data: RunJobData = { trigger: 'schedule' };
  await queue.upsertJobScheduler(RUN_SCHEDULER_ID, repeat, {
    name: 'run',
    data,
    opts: { attempts: 3, backoff: { type: 'exponential', delay: 5000 } },
  });
}

export async function syncVerifyScheduler(queue: Queue, schedule: VerifySchedule, timezone: string): Promise<void> {
  if (!schedule.enabled) {
    await queue.removeJobScheduler(VERIFY_SCHEDULER_ID);
    return;
  }
  await queue.upsertJobScheduler(
    VERIFY_SCHEDULER_ID,
    { pattern: toCronPattern(schedule), tz: timezone },
    { name: 'verify-newest', data: {}, opts: { attempts: 2, backoff: { type: 'exponential', delay: 5000 } } },
  );
}

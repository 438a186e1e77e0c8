/**
 * The backup schedule lives in Redis (one JSON value) so every API and worker process sees the same
 * one, and the BullMQ job scheduler is derived from it. Until an admin saves one, the seed's example
 * applies: Monday to Friday at 03:15, 10 generations, enabled — a backup service that backs up
 * nothing until someone finds the settings page is the worse default for a practice.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { toCronPattern } from '../core/cron.js';
import type { CronFields } from '../core/cron-fields.js';
import { storedScheduleProblem, type ScheduleInput } from '../core/schedule-input.js';
import { RUN_SCHEDULER_ID, VERIFY_SCHEDULER_ID, type RunJobData } from './queues.js';
import type { SettingsMirror } from './settings-mirror.js';

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

/**
 * One JSON settings value in Redis, with defaults for what was never saved; with a mirror, also
 * kept beside the backups and taken back from there when Redis lost it (settings-mirror.ts).
 */
export class SettingsStore<T extends object> {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly name: string,
    private readonly defaults: T,
    private readonly mirror?: SettingsMirror,
    /** What is wrong with a value read back from the mirror, or undefined (core/schedule-input.ts). */
    private readonly problem: (value: unknown) => string | undefined = () => undefined,
  ) {}

  private get key(): string {
    return `${this.prefix}:oob-settings:${this.name}`;
  }

  async get(): Promise<T> {
    return (await this.read()).value;
  }

  /**
   * The value, and `untrusted` when Redis had lost it and its copy beside the backups could not be
   * taken back (damaged, edited to something invalid): then the defaults apply, so that the
   * service starts and backs up on the default schedule, but a prune must not obey them (its
   * `keep` may be fewer than the admin chose: prune-job.ts refuses). Saving the setting mends it.
   */
  async read(): Promise<{ value: T; untrusted?: string }> {
    let raw = await this.redis.get(this.key);
    if (raw === null && this.mirror) {
      const kept = await this.mirror.read(this.name).then(
        (text) => ({ text, wrong: text === undefined ? undefined : this.problem(JSON.parse(text)) }),
        (err: Error) => ({ text: undefined, wrong: err.message }),
      );
      if (kept.wrong !== undefined) {
        const untrusted = `the copy of the ${this.name} setting in ${this.mirror.file(this.name)} is not valid (${kept.wrong}): save the setting again`;
        this.mirror.onInvalid(this.name, untrusted);
        return { value: { ...this.defaults }, untrusted };
      }
      if (kept.text !== undefined) {
        // NX: a change saved meanwhile by another process wins over the copy.
        if ((await this.redis.set(this.key, kept.text, 'NX')) === 'OK') this.mirror.onRestored(this.name, this.mirror.file(this.name));
        raw = await this.redis.get(this.key);
      }
    }
    if (raw === null) return { value: { ...this.defaults } };
    // A save whose outcome Redis could not tell: the copy follows what Redis holds now (settings-mirror.ts).
    const held = raw;
    await this.mirror?.catchUp(this.name, async () => held).catch(() => undefined);
    return { value: { ...this.defaults, ...(JSON.parse(raw) as Partial<T>) } };
  }

  async put(value: T): Promise<void> {
    const json = JSON.stringify(value);
    if (this.mirror) await this.mirror.change(this.name, json, () => this.redis.set(this.key, json), async () => (await this.redis.get(this.key)) ?? undefined);
    else await this.redis.set(this.key, json);
  }

  /** The copy beside the backups made to match Redis (missing after an upgrade, deleted, or behind a concurrent save). */
  async syncMirror(): Promise<void> {
    if (!this.mirror) return;
    const raw = await this.redis.get(this.key);
    if (raw !== null && (await this.mirror.read(this.name).catch(() => undefined)) !== raw) await this.mirror.write(this.name, raw);
  }
}

export type ScheduleStore = SettingsStore<Schedule>;
export type VerifyScheduleStore = SettingsStore<VerifySchedule>;

export const scheduleStore = (redis: Redis, prefix: string, mirror?: SettingsMirror): ScheduleStore =>
  new SettingsStore(redis, prefix, 'schedule', DEFAULT_SCHEDULE, mirror, (v) => storedScheduleProblem(v, true));
export const verifyScheduleStore = (redis: Redis, prefix: string, mirror?: SettingsMirror): VerifyScheduleStore =>
  new SettingsStore(redis, prefix, 'verify-schedule', DEFAULT_VERIFY_SCHEDULE, mirror, (v) => storedScheduleProblem(v, false));

/**
 * Makes the job scheduler match the stored schedule: exactly one scheduler when enabled, none when
 * disabled. For PUT/DELETE /api/schedule, which change it; see reconcileSchedulers for the check
 * that only repairs.
 */
export async function syncRunScheduler(queue: Queue, schedule: Schedule, timezone: string): Promise<void> {
  if (!schedule.enabled) {
    await queue.removeJobScheduler(RUN_SCHEDULER_ID);
    return;
  }
  await upsertRunScheduler(queue, { pattern: toCronPattern(schedule), tz: timezone });
}

export type SchedulerRepair = 'created' | 'repaired' | 'removed';

/**
 * Compares both job schedulers with the stored settings and repairs only what differs: a scheduler
 * that is missing (Redis emptied, removed by hand), has another pattern, time zone or job, lost its
 * next job, or exists while its schedule is disabled. Every process calls this at boot, workers
 * again every MAINTENANCE_INTERVAL, so a lost scheduler comes back by itself.
 *
 * Why not simply upsert every time: an upsert replaces the scheduler's next job, and if that job
 * is already waiting for a worker (its minute has come, the workers are busy or down), BullMQ
 * deletes it and schedules the tick after, so the due backup would silently not run.
 */
export async function reconcileSchedulers(
  queue: Queue,
  run: Schedule,
  verify: VerifySchedule,
  timezone: string,
): Promise<Partial<Record<typeof RUN_SCHEDULER_ID | typeof VERIFY_SCHEDULER_ID, SchedulerRepair>>> {
  const repairs: Partial<Record<typeof RUN_SCHEDULER_ID | typeof VERIFY_SCHEDULER_ID, SchedulerRepair>> = {};
  const r = await reconcileOne(queue, RUN_SCHEDULER_ID, 'run', run, timezone, () => syncRunScheduler(queue, run, timezone));
  if (r) repairs[RUN_SCHEDULER_ID] = r;
  const v = await reconcileOne(queue, VERIFY_SCHEDULER_ID, 'verify-newest', verify, timezone, () => syncVerifyScheduler(queue, verify, timezone));
  if (v) repairs[VERIFY_SCHEDULER_ID] = v;
  return repairs;
}

async function reconcileOne(
  queue: Queue,
  id: string,
  jobName: string,
  wanted: CronFields & { enabled: boolean },
  timezone: string,
  sync: () => Promise<void>,
): Promise<SchedulerRepair | undefined> {
  const current = await queue.getJobScheduler(id);
  if (!wanted.enabled) {
    if (!current) return undefined;
    await sync();
    return 'removed';
  }
  const same =
    current !== undefined &&
    current.pattern === toCronPattern(wanted) &&
    current.tz === timezone &&
    current.every === undefined &&
    current.name === jobName &&
    typeof current.next === 'number' &&
    (await queue.getJob(`repeat:${id}:${current.next}`)) !== undefined;
  if (same) return undefined;
  await sync();
  return current ? 'repaired' : 'created';
}

/**
 * When the current backup schedule took effect (its pattern was saved, or it was turned on, or the
 * service first ran). A catch-up run is only for a tick missed while the schedule existed: a fresh
 * install makes its first backup at its first tick (or by "run now"), not at once.
 */
function scheduleStartKey(prefix: string): string {
  return `${prefix}:oob-settings:schedule-since`;
}

/** `ifUnset`: at boot, for installations that have no start recorded yet. */
export async function markScheduleStart(redis: Redis, prefix: string, o: { ifUnset?: boolean; now?: Date } = {}): Promise<void> {
  const at = (o.now ?? new Date()).toISOString();
  if (o.ifUnset) await redis.set(scheduleStartKey(prefix), at, 'NX');
  else await redis.set(scheduleStartKey(prefix), at);
}

export async function scheduleStart(redis: Redis, prefix: string): Promise<Date | undefined> {
  const raw = await redis.get(scheduleStartKey(prefix));
  const t = raw === null ? NaN : Date.parse(raw);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/**
 * When the schedule took effect, for the overdue rule; recorded as `now` when Redis lost it
 * (emptied while the service ran): a tick from before cannot be told from one before the schedule
 * existed, so none is due (found by a tester).
 */
export async function scheduleSince(redis: Redis, prefix: string, now: Date): Promise<Date> {
  const since = await scheduleStart(redis, prefix);
  if (since) return since;
  await markScheduleStart(redis, prefix, { ifUnset: true, now });
  return (await scheduleStart(redis, prefix)) ?? now;
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

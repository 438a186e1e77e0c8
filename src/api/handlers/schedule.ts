/** GET/PUT/DELETE /api/schedule: the crontab fields of the one backup schedule. */
import type { AppContext } from '../../runtime/context.js';
import { nextRuns, toCronPattern } from '../../core/cron.js';
import type { CronFields } from '../../core/cron-fields.js';
import { pausedQueues } from '../../stores/paused-queues.js';
import { describePolicy } from '../../core/retention-policy.js';
import { markScheduleStart, syncRunScheduler, type Schedule } from '../../stores/schedule-store.js';
import type { Handler } from '../handler.js';
import { scheduleBody, verifyScheduleBody } from '../schemas/index.js';
import { parseRequest } from '../validate.js';

/** The crontab fields, the cron string, time zone, and the next 5 runs when enabled. */
export function cronView(ctx: AppContext, s: CronFields & { enabled: boolean }, now = ctx.clock.now()) {
  const cron = toCronPattern(s);
  const tz = ctx.config.timezone;
  return {
    minute: s.minute,
    hour: s.hour,
    day: s.day,
    month: s.month,
    weekday: s.weekday,
    timezone: tz,
    enabled: s.enabled,
    cron,
    nextRuns: s.enabled ? upcoming(cron, tz, now) : [],
  };
}

/**
 * The next 5 runs, computed once per minute: they are the same for every instant of a minute (runs
 * are whole minutes, strictly after `now`), and cron-parser's zone arithmetic costs about a
 * millisecond, which the main screen's polling would pay on every request.
 */
const upcomingCache = new Map<string, string[]>();

function upcoming(cron: string, tz: string, now: Date): string[] {
  const key = `${cron}|${tz}|${Math.floor(now.getTime() / 60_000)}`;
  let runs = upcomingCache.get(key);
  if (!runs) {
    runs = nextRuns(cron, tz, now, 5).map((d) => d.toISOString());
    if (upcomingCache.size >= 16) upcomingCache.clear();
    upcomingCache.set(key, runs);
  }
  return runs;
}

export function scheduleView(ctx: AppContext, s: Schedule) {
  // With LOCAL_RETENTION set, `keep` is stored but not what prunes: the screen says so (found by a tester).
  const local = ctx.config.localRetention;
  return { ...cronView(ctx, s), keep: s.keep, localRetention: local ? describePolicy(local) : null };
}

/** The schedule, and which queues are paused by hand: a paused queue holds scheduled runs back too. */
async function scheduleAnswer(ctx: AppContext, s: Schedule) {
  return { ...scheduleView(ctx, s), paused: await pausedQueues(ctx.queues) };
}

export const getSchedule: Handler = async (ctx) => {
  // `problem`: the schedule Redis lost could not be taken back from its copy (the defaults show; prunes wait).
  const { value, untrusted } = await ctx.schedules.read();
  return { status: 200, body: { ...(await scheduleAnswer(ctx, value)), problem: untrusted ?? null } };
};

export const putSchedule: Handler = async (ctx, req) => {
  const schedule: Schedule = { ...parseRequest(scheduleBody, req.body, 'body'), enabled: true };
  const before = await ctx.schedules.get();
  await ctx.schedules.put(schedule);
  await syncRunScheduler(ctx.queues.schedule, schedule, ctx.config.timezone);
  // A new pattern (or turning it back on) starts a new schedule: no catch-up for its earlier ticks.
  if (!before.enabled || toCronPattern(before) !== toCronPattern(schedule)) await markScheduleStart(ctx.redis, ctx.config.queuePrefix, { now: ctx.clock.now() });
  ctx.logger.info({ module: 'api', cron: toCronPattern(schedule), keep: schedule.keep }, 'schedule saved');
  // The shape of GET (README: "same shape"); saving mends a copy that was not valid.
  return { status: 200, body: { ...(await scheduleAnswer(ctx, schedule)), problem: null } };
};

export const deleteSchedule: Handler = async (ctx) => {
  const schedule: Schedule = { ...(await ctx.schedules.get()), enabled: false };
  await ctx.schedules.put(schedule);
  await syncRunScheduler(ctx.queues.schedule, schedule, ctx.config.timezone);
  ctx.logger.info({ module: 'api' }, 'scheduled backups disabled');
  return { status: 200, body: { ...(await scheduleAnswer(ctx, schedule)), problem: null } };
};

/**
 * POST /api/schedule/preview: the five fields checked and their next runs, nothing stored. The
 * settings screen asks while the admin types, so what it shows comes from the same rules and the
 * same cron library that saving and firing use (for the backup and the verify schedule alike).
 */
export const previewSchedule: Handler = async (ctx, req) => {
  const fields = parseRequest(verifyScheduleBody, req.body, 'body');
  return { status: 200, body: cronView(ctx, { ...fields, enabled: true }) };
};

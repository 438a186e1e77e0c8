/** The verify schedule (same crontab fields as the backup schedule) and "verify this set now". */
import { syncVerifyScheduler, type VerifySchedule } from '../../stores/schedule-store.js';
import { enqueueSetVerification } from '../../stores/verify-runs.js';
import type { Handler } from '../handler.js';
import { notFound } from '../http-error.js';
import { stampParams, verifyScheduleBody } from '../schemas/index.js';
import { parseRequest } from '../validate.js';
import { cronView } from './schedule.js';

export const getVerifySchedule: Handler = async (ctx) => ({ status: 200, body: cronView(ctx, await ctx.verifySchedules.get()) });

export const putVerifySchedule: Handler = async (ctx, req) => {
  const schedule: VerifySchedule = { ...parseRequest(verifyScheduleBody, req.body, 'body'), enabled: true };
  await ctx.verifySchedules.put(schedule);
  await syncVerifyScheduler(ctx.queues.schedule, schedule, ctx.config.timezone);
  return { status: 200, body: cronView(ctx, schedule) };
};

export const deleteVerifySchedule: Handler = async (ctx) => {
  const schedule: VerifySchedule = { ...(await ctx.verifySchedules.get()), enabled: false };
  await ctx.verifySchedules.put(schedule);
  await syncVerifyScheduler(ctx.queues.schedule, schedule, ctx.config.timezone);
  return { status: 200, body: cronView(ctx, schedule) };
};

export const verifySetNow: Handler = async (ctx, req) => {
  const { stamp } = parseRequest(stampParams, req.params, 'path');
  const set = await ctx.store.getSet(stamp);
  if (!set) throw notFound(`no backup set ${stamp}`);
  const jobs = await enqueueSetVerification(ctx.queues, set);
  return { status: 202, body: { stamp, jobs } };
};

/** The verify schedule (same crontab fields as the backup schedule) and "verify this set now". */
import { parseCronFieldsInput } from '../../core/schedule-input.js';
import { isValidStamp } from '../../core/names.js';
import { syncVerifyScheduler, type VerifySchedule } from '../../stores/schedule-store.js';
import { enqueueSetVerification } from '../../stores/verify-runs.js';
import type { Handler } from '../handler.js';
import { badRequest, notFound } from '../http-error.js';
import { cronView } from './schedule.js';

export const getVerifySchedule: Handler = async (ctx) => ({ status: 200, body: cronView(ctx, await ctx.verifySchedules.get()) });

export const putVerifySchedule: Handler = async (ctx, req) => {
  const parsed = parseCronFieldsInput(req.body);
  if (!parsed.ok) throw badRequest(parsed.error.message, parsed.error.field);
  const schedule: VerifySchedule = { ...parsed.value, enabled: true };
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
  const stamp = req.params.stamp ?? '';
  if (!isValidStamp(stamp)) throw badRequest(`"${stamp}" is not a stamp like 2026-11-21-0315`, 'stamp');
  const set = await ctx.store.getSet(stamp);
  if (!set) throw notFound(`no backup set ${stamp}`);
  const jobs = await enqueueSetVerification(ctx.queues, set);
  return { status: 202, body: { stamp, jobs } };
};

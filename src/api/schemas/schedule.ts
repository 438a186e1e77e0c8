/**
 * PUT /api/schedule and PUT /api/verify-schedule. Each crontab field is checked by core/cron.ts,
 * whose messages name the field and its allowed range ("minute: "60" is out of range; allowed
 * 0-59 (e.g. …)"); the schema calls it for the value and for a value of the wrong type alike.
 */
import { z } from 'zod';
import { validateField, type CronFields, type FieldName } from '../../core/cron-fields.js';
import { neverFires, validateKeep } from '../../core/schedule-input.js';
import { bodyErrors } from './common.js';

/** What core/ answers about a value: the value to keep, or the message to give. */
type Checked<T> = { ok: true; value: T } | { ok: false; error: { message: string } };

/**
 * A string or a whole number (what a JSON body or a form sends), decided by `check` of core/: its
 * message is the answer for a bad value and for a value of another type alike.
 */
function checkedBy<T>(check: (raw: unknown) => Checked<T>, description: string) {
  // Every issue of the type check (wrong type, or an integer beyond the safe range) gets core/'s message.
  const error = (issue: { input?: unknown }) => messageOf(check(issue.input));
  return z
    .union([z.string({ error }), z.int({ error })], { error })
    .transform((raw, ctx) => {
      const result = check(raw);
      if (result.ok) return result.value;
      ctx.issues.push({ code: 'custom', message: result.error.message, input: raw });
      return z.NEVER;
    })
    .meta({ description });
}

function messageOf(result: Checked<unknown>): string {
  return result.ok ? 'invalid value' : result.error.message;
}

const cronField = (field: FieldName, description: string) => checkedBy((raw) => validateField(field, raw), description);

const cronFields = {
  minute: cronField('minute', 'minute 0-59: *, 5, 1,3,4, 1-5, */10, 1-10/2'),
  hour: cronField('hour', 'hour 0-23, same syntax'),
  day: cronField('day', 'day of month 1-31, same syntax'),
  month: cronField('month', 'month 1-12, same syntax'),
  weekday: cronField('weekday', 'day of week 0-7 (0 and 7 = Sunday, 1 = Monday), same syntax'),
};

/** The combination must fire at least once (day 31 never comes in April); the issue names day. */
function mustFire(fields: CronFields, ctx: z.core.$RefinementCtx) {
  const error = neverFires(fields);
  if (error) ctx.addIssue({ code: 'custom', path: [error.field], message: error.message });
}

/**
 * Rules across fields run only when every field passed: zod would otherwise run them after an issue
 * it counts as non-fatal (an integer beyond the safe range), with a field's raw value.
 */
export const whenFieldsValid = { when: (payload: z.core.ParsePayload) => payload.issues.length === 0 };

export const scheduleBody = z
  .strictObject(
    {
      ...cronFields,
      keep: checkedBy(validateKeep, 'generations kept per volume, 1-1000'),
    },
    {
      error: bodyErrors(
        'body: expected a JSON object with minute, hour, day, month, weekday, keep',
        (key) => `${key}: unknown field; only the five crontab fields (minute, hour, day, month, weekday) and keep are accepted`,
      ),
    },
  )
  .superRefine(mustFire, whenFieldsValid)
  .meta({ id: 'ScheduleInput', description: 'the backup schedule: five crontab fields and the generations kept' });

export const verifyScheduleBody = z
  .strictObject(cronFields, {
    error: bodyErrors(
      'body: expected a JSON object with minute, hour, day, month, weekday',
      (key) => `${key}: unknown field; only the five crontab fields (minute, hour, day, month, weekday) are accepted`,
    ),
  })
  .superRefine(mustFire, whenFieldsValid)
  .meta({ id: 'VerifyScheduleInput', description: 'the verify schedule: five crontab fields' });

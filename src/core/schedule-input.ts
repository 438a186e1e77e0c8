/**
 * The bodies of PUT /api/schedule (the five crontab fields and `keep`) and PUT /api/verify-schedule
 * (the five fields only): exactly these keys, each valid, and a combination that fires at all. The
 * first problem found is returned as `{field, message}`, the message naming the field. Pure logic.
 */
import { nextRuns, toCronPattern } from './cron.js';
import { describeValue, FIELD_ORDER, fieldError, validateField, type CronFields, type FieldError } from './cron-fields.js';

export interface ScheduleInput extends CronFields {
  /** Generations kept per volume. */
  keep: number;
}

export type ParseResult = { ok: true; value: ScheduleInput } | { ok: false; error: FieldError };

export const KEEP_MIN = 1;
export const KEEP_MAX = 1000;

const SCHEDULE_KEYS: readonly string[] = [...FIELD_ORDER, 'keep'];

function keepError(problem: string): { ok: false; error: FieldError } {
  const message = `keep: ${problem}; allowed ${KEEP_MIN}-${KEEP_MAX} (number of generations kept per volume)`;
  return { ok: false, error: { field: 'keep', message } };
}

/** `keep` may arrive as a number or, from a form, as a string of digits. */
function validateKeep(raw: unknown): { ok: true; value: number } | { ok: false; error: FieldError } {
  let n: number;
  if (typeof raw === 'number') {
    n = raw;
  } else if (typeof raw === 'string' && /^\d+$/.test(raw.trim())) {
    n = Number(raw.trim());
  } else if (raw === undefined) {
    return keepError('the value is missing');
  } else {
    return keepError(`${describeValue(raw)} is not a whole number`);
  }
  if (!Number.isInteger(n)) return keepError(`${String(n)} is not a whole number`);
  if (n < KEEP_MIN) return keepError(`${n} is too small; at least one generation must be kept`);
  if (n > KEEP_MAX) return keepError(`${n} is more than the maximum of ${KEEP_MAX} generations`);
  return { ok: true, value: n };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A fixed reference instant keeps parseScheduleInput deterministic; any instant would do. */
const NEVER_FIRES_REFERENCE = new Date(Date.UTC(2000, 0, 1));

/**
 * Validates the PUT /api/schedule body: exactly minute, hour, day, month, weekday and keep.
 * Returns the first problem found (unknown keys, then missing keys, then each field in order).
 */
export function parseScheduleInput(body: unknown): ParseResult {
  return parseFields(body, true) as ParseResult;
}

/** The verify schedule takes the five crontab fields only (no keep). */
export function parseCronFieldsInput(body: unknown): { ok: true; value: CronFields } | { ok: false; error: FieldError } {
  return parseFields(body, false);
}

function parseFields(body: unknown, withKeep: boolean): { ok: true; value: CronFields | ScheduleInput } | { ok: false; error: FieldError } {
  const keys = withKeep ? SCHEDULE_KEYS : FIELD_ORDER;
  if (!isPlainObject(body)) {
    const message = `body: expected a JSON object with ${keys.join(', ')}`;
    return { ok: false, error: { field: 'body', message } };
  }

  const unknown = Object.keys(body).find((key) => !keys.includes(key));
  if (unknown !== undefined) {
    const message = `${unknown}: unknown field; only the five crontab fields (minute, hour, day, month, weekday)${withKeep ? ' and keep' : ''} are accepted`;
    return { ok: false, error: { field: unknown, message } };
  }

  const fields: Partial<CronFields> = {};
  for (const field of FIELD_ORDER) {
    const result = validateField(field, body[field]);
    if (!result.ok) return result;
    fields[field] = result.value;
  }
  let value: CronFields | ScheduleInput = fields as CronFields;
  if (withKeep) {
    const keep = validateKeep(body.keep);
    if (!keep.ok) return keep;
    value = { ...value, keep: keep.value };
  }

  // Every field can be valid on its own while the combination never fires (day 31 in April, or
  // day 30 in February, with weekday *). BullMQ would then never run a backup; say so now.
  if (nextRuns(toCronPattern(value), 'UTC', NEVER_FIRES_REFERENCE, 1).length === 0) {
    return fieldError('day', `${JSON.stringify(value.day)} never occurs in month ${JSON.stringify(value.month)}, so the schedule would never run`);
  }
  return { ok: true, value };
}

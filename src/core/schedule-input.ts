/**
 * What a schedule holds beyond its five crontab fields: `keep`, the generations kept per volume,
 * and the check that a combination of fields fires at all. The request bodies themselves are
 * validated by the API's schemas (src/api/schemas/schedule.ts), which call these. Pure logic.
 */
import { nextRuns, toCronPattern } from './cron.js';
import { describeValue, FIELD_ORDER, fieldError, validateField, type CronFields, type FieldError } from './cron-fields.js';

export interface ScheduleInput extends CronFields {
  /** Generations kept per volume. */
  keep: number;
}

export const KEEP_MIN = 1;
export const KEEP_MAX = 1000;

function keepError(problem: string): { ok: false; error: FieldError } {
  const message = `keep: ${problem}; allowed ${KEEP_MIN}-${KEEP_MAX} (number of generations kept per volume)`;
  return { ok: false, error: { field: 'keep', message } };
}

/** `keep` may arrive as a number or, from a form, as a string of digits. */
export function validateKeep(raw: unknown): { ok: true; value: number } | { ok: false; error: FieldError } {
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

/** A fixed reference instant keeps the check deterministic; any instant would do. */
const NEVER_FIRES_REFERENCE = new Date(Date.UTC(2000, 0, 1));

/** Fields that are each valid but never fire together (day 31 in month 4): the problem, naming `day`. */
export function neverFires(fields: CronFields): FieldError | undefined {
  if (nextRuns(toCronPattern(fields), 'UTC', NEVER_FIRES_REFERENCE, 1).length > 0) return undefined;
  return fieldError('day', `${JSON.stringify(fields.day)} never occurs in month ${JSON.stringify(fields.month)}, so the schedule would never run`).error;
}

/**
 * What is wrong with a stored schedule (a settings copy read back: settings-mirror.ts), or
 * undefined: the five fields valid and firing, `keep` (when `withKeep`) in range, `enabled` a
 * boolean. A damaged or edited copy must not become the schedule that the next prune obeys.
 */
export function storedScheduleProblem(value: unknown, withKeep: boolean): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as Record<string, unknown>;
  const fields: Partial<CronFields> = {};
  for (const name of FIELD_ORDER) {
    const r = validateField(name, v[name]);
    if (!r.ok) return r.error.message;
    fields[name] = r.value;
  }
  const never = neverFires(fields as CronFields);
  if (never) return never.message;
  if (withKeep) {
    const keep = validateKeep(v.keep);
    if (!keep.ok) return keep.error.message;
  }
  if (typeof v.enabled !== 'boolean') return 'enabled: not true or false';
  return undefined;
}

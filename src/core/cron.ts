/**
 * The backup schedule in crontab form: validation of the five fields an admin edits (plus `keep`),
 * and the run times it produces. Pure logic, no I/O.
 *
 * Run times come from cron-parser, the same library (and version) BullMQ uses to fire job
 * schedulers, so the next runs shown to the admin are the ones that actually fire. Our own
 * validation is deliberately stricter than cron-parser (numbers only, no names, no `?`/`L`/`W`/`#`,
 * no seconds field) so that the documented syntax is exactly what is accepted, and every error
 * names the field and its allowed range.
 *
 * Day of month AND day of week: when both are restricted (neither is `*`), standard cron semantics
 * apply and the job fires when EITHER matches (`0 12 13 * 5` = every 13th and every Friday).
 * This is what cron-parser does; we do not change it.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';

export type FieldName = 'minute' | 'hour' | 'day' | 'month' | 'weekday';

export interface CronFields {
  minute: string;
  hour: string;
  day: string;
  month: string;
  weekday: string;
}

export interface ScheduleInput extends CronFields {
  /** Generations kept per volume. */
  keep: number;
}

export interface FieldError {
  field: string;
  message: string;
}

type FieldResult = { ok: true; value: string } | { ok: false; error: FieldError };

export const FIELD_RANGES: Record<FieldName, { min: number; max: number; label: string }> = {
  minute: { min: 0, max: 59, label: 'minute' },
  hour: { min: 0, max: 23, label: 'hour' },
  day: { min: 1, max: 31, label: 'day of month' },
  month: { min: 1, max: 12, label: 'month' },
  weekday: { min: 0, max: 7, label: 'day of week (0 and 7 = Sunday, 1 = Monday)' },
};

/** Crontab order; also the order in which errors are reported. */
const FIELD_ORDER: readonly FieldName[] = ['minute', 'hour', 'day', 'month', 'weekday'];

/** Examples that are valid for the field, so an error message can be copied from directly. */
const FIELD_EXAMPLES: Record<FieldName, string> = {
  minute: '*, 5, 1,3,4, 1-5, */10',
  hour: '*, 3, 0,12, 8-18, */6',
  day: '*, 1, 1,15, 1-7, */10',
  month: '*, 1, 1,4,7,10, 1-6, */3',
  weekday: '*, 1, 1,3,5, 1-5, */2',
};

export const KEEP_MIN = 1;
export const KEEP_MAX = 1000;

// ---------------------------------------------------------------------------------------------
// Single field
// ---------------------------------------------------------------------------------------------

function allowedHint(field: FieldName): string {
  const { min, max } = FIELD_RANGES[field];
  const sunday = field === 'weekday' ? ', 0 and 7 = Sunday, 1 = Monday' : '';
  return `allowed ${min}-${max}${sunday} (e.g. ${FIELD_EXAMPLES[field]})`;
}

function fieldError(field: FieldName, problem: string): { ok: false; error: FieldError } {
  return { ok: false, error: { field, message: `${field}: ${problem}; ${allowedHint(field)}` } };
}

/** One list item: `*`, `5`, `1-5`, optionally followed by `/step`. Digits only. */
const ITEM = /^(\*|\d+|\d+-\d+)(?:\/(\d+))?$/;

/**
 * Explains why a list item is not accepted (it does not match ITEM, or is a number with a step).
 * The common mistakes get a specific hint because a bare "invalid" would not tell the admin which
 * crontab feature we left out.
 */
function describeBadItem(item: string): string {
  const quoted = JSON.stringify(item);
  if (/[?#]/.test(item) || /^(\d*[LW]|LW)$/.test(item)) return `${quoted} uses ? L W or #, which are not supported`;
  if (/[a-z]/i.test(item)) return `${quoted} contains letters; names like mon or jan are not supported, use numbers`;
  if (/^\d+\/\d*$/.test(item)) return `${quoted}: a step (/) is only allowed after * or a range, e.g. */10 or 1-10/2`;
  if (item.includes('.')) return `${quoted} is not a whole number`;
  if (item.startsWith('-')) return `${quoted} is not valid; negative numbers are not allowed`;
  if (/^\d+-$/.test(item) || /^\d+-\//.test(item)) return `${quoted} is an incomplete range; write start-end, e.g. 1-5`;
  if (/\/$/.test(item)) return `${quoted} is missing the step after /`;
  return `${quoted} is not a valid expression`;
}

/** Checks numbers, range order and step of one item that already matches ITEM. */
function checkItem(field: FieldName, item: string): string | undefined {
  const match = ITEM.exec(item);
  if (!match) return describeBadItem(item);
  const [, base = '', stepText] = match;
  const { min, max } = FIELD_RANGES[field];

  // crontab only defines a step over a set (* or a range); "5/10" would mean different things in
  // different cron dialects, so it is refused rather than guessed.
  if (stepText !== undefined && /^\d+$/.test(base)) return describeBadItem(`${base}/${stepText}`);

  if (base !== '*') {
    const [startText = '', endText = startText] = base.split('-');
    for (const text of [startText, endText]) {
      const n = Number(text);
      if (n < min || n > max) return `${JSON.stringify(text)} is out of range`;
    }
    if (Number(startText) > Number(endText)) return `${JSON.stringify(item)} is a range whose start is after its end`;
  }

  if (stepText !== undefined) {
    const step = Number(stepText);
    // A step above the field's maximum would only ever select the start; it is almost certainly a
    // typo, and capping it also keeps absurdly long digit strings away from cron-parser.
    if (step < 1 || step > max) return `${JSON.stringify(item)} has step ${stepText}; a step must be between 1 and ${max}`;
  }
  return undefined;
}

/** Accepts what a JSON body may carry: a string, or an integer number (normalised to a string). */
function rawToText(raw: unknown): { text: string } | { problem: string } {
  if (typeof raw === 'string') return { text: raw.trim() };
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return { problem: `${String(raw)} is not a whole number` };
    return { text: String(raw) };
  }
  if (raw === undefined) return { problem: 'the value is missing' };
  return { problem: `expected a string or whole number, got ${describeValue(raw)}` };
}

/** For messages; never throws (JSON.stringify would on a bigint). */
function describeValue(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (raw === null) return 'null';
  if (typeof raw === 'object') return Array.isArray(raw) ? 'an array' : 'an object';
  if (typeof raw === 'function') return 'a function';
  return String(raw);
}

/** Validates one crontab field. On success the value is the trimmed string form. */
export function validateField(field: FieldName, raw: unknown): FieldResult {
  const converted = rawToText(raw);
  if ('problem' in converted) return fieldError(field, converted.problem);
  const text = converted.text;

  if (text === '') return fieldError(field, 'the value is empty');
  if (/\s/.test(text)) {
    // e.g. "1-5 *": the admin typed the next field into this one.
    return fieldError(field, `${JSON.stringify(text)} contains a space; each field takes one expression`);
  }
  for (const item of text.split(',')) {
    if (item === '') return fieldError(field, `${JSON.stringify(text)} has an empty list item`);
    const problem = checkItem(field, item);
    if (problem !== undefined) return fieldError(field, problem);
  }
  return { ok: true, value: text };
}

// ---------------------------------------------------------------------------------------------
// keep, and the combination of the fields (the request bodies are src/api/schemas/schedule.ts)
// ---------------------------------------------------------------------------------------------

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

/** A fixed reference instant keeps neverFires deterministic; any instant would do. */
const NEVER_FIRES_REFERENCE = new Date(Date.UTC(2000, 0, 1));

/**
 * Every field can be valid on its own while the combination never fires (day 31 in April, or day
 * 30 in February, with weekday *). BullMQ would then never run a backup; this says so, naming day.
 */
export function neverFires(fields: CronFields): FieldError | undefined {
  if (nextRuns(toCronPattern(fields), 'UTC', NEVER_FIRES_REFERENCE, 1).length > 0) return undefined;
  return fieldError('day', `${JSON.stringify(fields.day)} never occurs in month ${JSON.stringify(fields.month)}, so the schedule would never run`).error;
}

export function toCronPattern(fields: CronFields): string {
  return FIELD_ORDER.map((field) => fields[field].trim()).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Run times
// ---------------------------------------------------------------------------------------------

/** Zone names found valid (asking Intl each time costs ~0.1 ms, and every nextRuns asks). */
const validZones = new Map<string, boolean>();

/** True when Intl (and therefore luxon inside cron-parser) knows the IANA zone. */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  let valid = validZones.get(tz);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      valid = true;
    } catch {
      valid = false;
    }
    // Only names that exist are kept: input that is not a zone cannot grow the map.
    if (valid) validZones.set(tz, true);
  }
  return valid;
}

/**
 * Checks the pattern with our own rules first, so a malformed pattern is a clear error here, and
 * anything cron-parser rejects afterwards can only be a combination that never fires.
 */
function assertUsable(pattern: string, timezone: string, at: Date): void {
  if (!isValidTimeZone(timezone)) throw new RangeError(`unknown time zone ${JSON.stringify(timezone)}`);
  if (Number.isNaN(at.getTime())) throw new RangeError('invalid reference date');
  const parts = pattern.trim().split(/\s+/);
  if (parts.length !== FIELD_ORDER.length) {
    throw new Error(`cron pattern ${JSON.stringify(pattern)} must have exactly 5 fields (minute hour day month weekday)`);
  }
  FIELD_ORDER.forEach((field, i) => {
    const result = validateField(field, parts[i]);
    if (!result.ok) throw new Error(`cron pattern ${JSON.stringify(pattern)}: ${result.error.message}`);
  });
}

/** cron-parser's iterator, or undefined when it rejects an (already syntax-checked) pattern. */
function openExpression(pattern: string, timezone: string, at: Date): CronExpression | undefined {
  try {
    return CronExpressionParser.parse(pattern.trim(), { currentDate: at, tz: timezone });
  } catch {
    return undefined; // e.g. "Invalid explicit day of month definition" for day 30 in February
  }
}

/** One step of the iterator; undefined when cron-parser gives up (its loop limit: never fires). */
function step(expression: CronExpression, direction: 'next' | 'prev'): Date | undefined {
  try {
    return expression[direction]().toDate();
  } catch {
    return undefined;
  }
}

/**
 * The next `count` fire times strictly after `from`, in the given IANA time zone (always passed,
 * so results do not depend on the server's TZ). Empty when the pattern can never fire.
 *
 * DST in Europe/Zurich as observed with cron-parser 5.10.3 (see test/unit/cron.test.ts):
 * - spring forward (02:00 -> 03:00): a time inside the missing hour is shifted forward, not
 *   skipped: `30 2 * * *` fires at 03:30 CEST that day, once.
 * - fall back (03:00 -> 02:00): a time inside the repeated hour fires once, at its first
 *   (CEST) occurrence. `15 3 * * *` stays at 03:15 local on both sides of the change.
 */
export function nextRuns(pattern: string, timezone: string, from: Date, count: number): Date[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  assertUsable(pattern, timezone, from);
  const expression = openExpression(pattern, timezone, from);
  const runs: Date[] = [];
  while (expression && runs.length < count) {
    const run = step(expression, 'next');
    if (!run) break;
    runs.push(run);
  }
  return runs;
}

/**
 * The last fire time strictly before `before`, or undefined when there is none.
 *
 * Caveat from cron-parser: going backwards over the fall-back night it reports BOTH occurrences of
 * a time in the repeated hour (`30 2 * * *` before 2026-10-25T02:00Z gives 01:30Z, the CET pass),
 * although the forward iteration (what BullMQ fires) only uses the first, CEST one (00:30Z). So for
 * that one hour a year the answer may be a time at which nothing actually ran.
 */
export function previousRun(pattern: string, timezone: string, before: Date): Date | undefined {
  assertUsable(pattern, timezone, before);
  const expression = openExpression(pattern, timezone, before);
  return expression ? step(expression, 'prev') : undefined;
}

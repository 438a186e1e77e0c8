/**
 * The five crontab fields an admin edits (minute, hour, day, month, weekday): what each accepts, and
 * a message that names the field and its allowed range when a value is refused. Pure logic.
 *
 * Deliberately stricter than cron-parser (numbers only, no names, no `?`/`L`/`W`/`#`, no seconds
 * field) so that the documented syntax is exactly what is accepted: `*` (every), `5`, lists `1,3,4`,
 * ranges `1-5`, a step after `*` or a range (every 10th, `1-10/2`), and lists of these (`0,30`).
 */

export type FieldName = 'minute' | 'hour' | 'day' | 'month' | 'weekday';

export interface CronFields {
  minute: string;
  hour: string;
  day: string;
  month: string;
  weekday: string;
}

export interface FieldError {
  field: string;
  message: string;
}

export type FieldResult = { ok: true; value: string } | { ok: false; error: FieldError };

export const FIELD_RANGES: Record<FieldName, { min: number; max: number; label: string }> = {
  minute: { min: 0, max: 59, label: 'minute' },
  hour: { min: 0, max: 23, label: 'hour' },
  day: { min: 1, max: 31, label: 'day of month' },
  month: { min: 1, max: 12, label: 'month' },
  weekday: { min: 0, max: 7, label: 'day of week (0 and 7 = Sunday, 1 = Monday)' },
};

/** Crontab order; also the order in which errors are reported. */
export const FIELD_ORDER: readonly FieldName[] = ['minute', 'hour', 'day', 'month', 'weekday'];

/** Examples that are valid for the field, so an error message can be copied from directly. */
const FIELD_EXAMPLES: Record<FieldName, string> = {
  minute: '*, 5, 1,3,4, 1-5, */10',
  hour: '*, 3, 0,12, 8-18, */6',
  day: '*, 1, 1,15, 1-7, */10',
  month: '*, 1, 1,4,7,10, 1-6, */3',
  weekday: '*, 1, 1,3,5, 1-5, */2',
};

function allowedHint(field: FieldName): string {
  const { min, max } = FIELD_RANGES[field];
  const sunday = field === 'weekday' ? ', 0 and 7 = Sunday, 1 = Monday' : '';
  return `allowed ${min}-${max}${sunday} (e.g. ${FIELD_EXAMPLES[field]})`;
}

/** A refusal of `field` that says what is wrong and what the field allows. */
export function fieldError(field: FieldName, problem: string): { ok: false; error: FieldError } {
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
export function describeValue(raw: unknown): string {
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
  // Which item selected each value: cron-parser (and so BullMQ) refuses a list that selects one twice.
  const seen = new Map<number, string>();
  for (const item of text.split(',')) {
    if (item === '') return fieldError(field, `${JSON.stringify(text)} has an empty list item`);
    const problem = checkItem(field, item);
    if (problem !== undefined) return fieldError(field, problem);
    for (const v of new Set(itemValues(field, item))) {
      const earlier = seen.get(v);
      if (earlier !== undefined) {
        return fieldError(field, `${JSON.stringify(text)} selects ${v === 0 && field === 'weekday' ? 'Sunday (0 or 7)' : v} twice (in ${JSON.stringify(earlier)} and ${JSON.stringify(item)}); list each value once`);
      }
      seen.set(v, item);
    }
  }
  return { ok: true, value: text };
}

/** The values a checked item selects (weekday 7 counted as 0, Sunday). */
function itemValues(field: FieldName, item: string): number[] {
  const [base = '', stepText] = item.split('/');
  const { min, max } = FIELD_RANGES[field];
  const [start, end] = base === '*' ? [min, max] : ((b) => [Number(b[0]), Number(b[1] ?? b[0])])(base.split('-'));
  const step = stepText === undefined ? 1 : Number(stepText);
  const values: number[] = [];
  for (let v = start; v <= end; v += step) values.push(field === 'weekday' && v === 7 ? 0 : v);
  return values;
}

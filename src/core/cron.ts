/**
 * A backup schedule as a crontab pattern, and when it fires. Pure logic, no I/O.
 *
 * Run times come from cron-parser, the same library (and version) BullMQ uses to fire job
 * schedulers, so the next runs shown to the admin are the ones that actually fire. A pattern is
 * first checked field by field with our own, stricter rules (cron-fields.ts), so a malformed pattern
 * is a clear error and anything cron-parser rejects afterwards can only be a combination that never
 * fires.
 *
 * Day of month AND day of week: when both are restricted (neither is `*`), standard cron semantics
 * apply and the job fires when EITHER matches (`0 12 13 * 5` = every 13th and every Friday).
 * This is what cron-parser does; we do not change it.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { FIELD_ORDER, validateField, type CronFields } from './cron-fields.js';

/** The five fields as one crontab pattern, in crontab order (what BullMQ and cron-parser take). */
export function toCronPattern(fields: CronFields): string {
  return FIELD_ORDER.map((field) => fields[field].trim()).join(' ');
}

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

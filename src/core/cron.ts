/**
 * A backup schedule as a crontab pattern, and when it fires. Pure logic, no I/O.
 *
 * Run times come from cron-parser, the same library (and version) BullMQ uses to fire job
 * schedulers, so the next runs shown to the admin are the ones that actually fire. A pattern is
 * first checked field by field with our own, stricter rules (cron-fields.ts), so a malformed pattern
 * is a clear error and anything cron-parser rejects afterwards can only be a combination that never
 * fires.
 *
 * Day of month AND day of week: when both are restricted, the job fires when EITHER matches
 * (`0 12 13 * 5` = every 13th and every Friday). This is what cron-parser does, and it counts a
 * stepped `*` (`*\/2`) as restricted, unlike Vixie cron; we do not change it (README says so).
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
 * The first fire time strictly after `after`, as BullMQ's job scheduler computes each next run:
 * cron-parser opened afresh at that moment (its defaultRepeatStrategy, from the time of the run it
 * just fired), not one iterator stepped on. The two differ over DST: one iterator shows both 03:00
 * and 03:30 for `*\/30 2 * * *` on the spring-forward night, BullMQ fires 03:00 only (found by an
 * audit).
 */
function nextAfter(pattern: string, timezone: string, after: Date): Date | undefined {
  const expression = openExpression(pattern, timezone, after);
  return expression ? step(expression, 'next') : undefined;
}

/**
 * The next `count` fire times strictly after `from`, in the given IANA time zone (always passed,
 * so results do not depend on the server's TZ), as BullMQ fires them (nextAfter). Empty when the
 * pattern can never fire.
 *
 * DST in Europe/Zurich as observed with cron-parser 5.10.3 (see test/unit/cron.test.ts):
 * - spring forward (02:00 -> 03:00): a time inside the missing hour is shifted forward, not
 *   skipped: `30 2 * * *` fires at 03:30 CEST that day, once; `*\/30 2 * * *` fires at 03:00 only.
 * - fall back (03:00 -> 02:00): a time inside the repeated hour fires once, at its first
 *   (CEST) occurrence. `15 3 * * *` stays at 03:15 local on both sides of the change.
 */
export function nextRuns(pattern: string, timezone: string, from: Date, count: number): Date[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  assertUsable(pattern, timezone, from);
  const runs: Date[] = [];
  let at = from;
  while (runs.length < count) {
    const run = nextAfter(pattern, timezone, at);
    if (!run || run.getTime() <= at.getTime()) break;
    runs.push(run);
    at = run;
  }
  return runs;
}

/**
 * The last fire time strictly before `before`, as BullMQ fires them (nextAfter), or undefined when
 * there is none. cron-parser's backward iteration is only the starting point: over the fall-back
 * night it reports a time in the repeated hour twice (the CET pass too, at which nothing runs), and
 * on the spring-forward night it skips the time that was shifted into 03:xx (found by an audit: a
 * missed 02:30 run was not overdue that day, nor caught up). So from two fire times back, the runs
 * are followed forward as BullMQ follows them.
 */
export function previousRun(pattern: string, timezone: string, before: Date): Date | undefined {
  assertUsable(pattern, timezone, before);
  const back = openExpression(pattern, timezone, before);
  const p1 = back ? step(back, 'prev') : undefined;
  if (!p1) return undefined;
  const p2 = step(back!, 'prev') ?? p1;
  let last: Date | undefined;
  let at = new Date(p2.getTime() - 1);
  for (let i = 0; i < 16; i++) {
    const run = nextAfter(pattern, timezone, at);
    if (!run || run.getTime() >= before.getTime() || run.getTime() <= at.getTime()) break;
    last = run;
    at = run;
  }
  return last ?? p1;
}

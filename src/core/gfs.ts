/**
 * Which archives a retention policy keeps (./retention-policy.ts), by the stamps in their names.
 * Stamps are local calendar time (YYYY-MM-DD-HHmm), so days, weeks and months are the practice's
 * own, and no time zone is needed here.
 *
 * Grandfather-father-son, as restic and borg define it: for each of the newest `daily` days that
 * have an archive, the newest archive of that day; likewise for the newest `weekly` ISO weeks
 * (Monday to Sunday) and the newest `monthly` months. One archive may stand for its day, week and
 * month at once. The newest archive is always kept.
 */
import { isValidStamp } from './names.js';
import type { RetentionPolicy } from './retention-policy.js';

export interface Stamped {
  stamp: string;
}

/** The archives `policy` removes; invalid stamps are never touched. */
export function selectByPolicy<A extends Stamped>(archives: A[], policy: RetentionPolicy): A[] {
  if (policy.kind === 'never') return [];
  const mine = archives.filter((a) => isValidStamp(a.stamp)).sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
  const kept = new Set<A>(mine.slice(0, 1));
  if (policy.kind === 'keep') {
    for (const a of mine.slice(0, policy.keep)) kept.add(a);
  } else {
    keepNewestPer(mine, dayOf, policy.daily, kept);
    keepNewestPer(mine, isoWeekOf, policy.weekly, kept);
    keepNewestPer(mine, monthOf, policy.monthly, kept);
  }
  return mine.filter((a) => !kept.has(a));
}

/** `mine` is newest first: the first archive seen in a period is that period's newest. */
function keepNewestPer<A extends Stamped>(mine: A[], period: (stamp: string) => string, count: number, kept: Set<A>): void {
  const seen = new Set<string>();
  for (const a of mine) {
    if (seen.size >= count) return;
    const p = period(a.stamp);
    if (seen.has(p)) continue;
    seen.add(p);
    kept.add(a);
  }
}

export function dayOf(stamp: string): string {
  return stamp.slice(0, 10);
}

export function monthOf(stamp: string): string {
  return stamp.slice(0, 7);
}

/** ISO 8601 week, e.g. `2026-W01` (the week with the year's first Thursday). */
export function isoWeekOf(stamp: string): string {
  const [y, m, d] = [Number(stamp.slice(0, 4)), Number(stamp.slice(5, 7)), Number(stamp.slice(8, 10))];
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7; // Monday 1 … Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const year = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

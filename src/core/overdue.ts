/**
 * Which volumes are overdue: pure logic, no I/O. A volume is overdue when the schedule fired
 * (the last fire time before `now - grace`) after its last successful archive, or when it never
 * succeeded although a fire time has passed. The grace covers the time a run needs (queueing,
 * archiving a large volume) so a run in progress is not reported.
 *
 * "Successful" is the caller's: the newest archive whose verification did not fail.
 *
 * Only the one latest fire time counts: a volume that missed Tuesday but succeeded on Wednesday
 * is fine again. Weekends and holidays need no special case, because a schedule such as
 * `15 3 * * 1-5` simply has no fire time on Saturday and Sunday.
 *
 * Inherits the caveat of previousRun (core/cron.ts): for the repeated hour of the DST fall-back
 * night a fire time may be reported at which nothing actually ran.
 */
import { previousRun } from './cron.js';

export interface OverdueInput {
  /** Five-field crontab pattern of the schedule, e.g. "15 3 * * 1-5". */
  pattern: string;
  timezone: string;
  now: Date;
  /** Every volume to check; undefined = no successful archive ever. */
  lastSuccessByVolume: Record<string, Date | undefined>;
  graceMs: number;
  /**
   * When the schedule took effect (saved, turned on, or the service's first start): a fire time
   * before it was never a tick of this schedule, so nothing was due then (a fresh install was
   * reported overdue for 03:15 of the day it was installed; found by a tester).
   */
  since?: Date;
}

export interface OverdueVolume {
  volume: string;
  lastSuccess: Date | null;
  /** The fire time whose archive is missing. */
  expectedBy: Date;
}

/** Overdue volumes, by volume name. */
export function overdueVolumes(input: OverdueInput): OverdueVolume[] {
  if (!Number.isFinite(input.graceMs) || input.graceMs < 0) throw new RangeError(`graceMs must be >= 0, got ${input.graceMs}`);
  const cutoff = new Date(input.now.getTime() - input.graceMs);
  const expectedBy = previousRun(input.pattern, input.timezone, cutoff);
  if (!expectedBy) return [];
  if (input.since && expectedBy.getTime() < input.since.getTime()) return [];
  const overdue: OverdueVolume[] = [];
  for (const volume of Object.keys(input.lastSuccessByVolume).sort()) {
    const last = input.lastSuccessByVolume[volume];
    if (last === undefined || last.getTime() < expectedBy.getTime()) {
      overdue.push({ volume, lastSuccess: last ?? null, expectedBy });
    }
  }
  return overdue;
}

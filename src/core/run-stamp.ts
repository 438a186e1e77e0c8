/**
 * The stamp of a scheduled run. A set is named after the minute whose data it holds:
 * - a run that starts in its tick's minute (or a few ms before it: BullMQ may start the delayed
 *   job early, seen 03:14:59.989 for 03:15) is stamped with the tick;
 * - a run that starts in a later minute (the machine was off at the tick, a restore held it back,
 *   the workers were busy) holds the data of that later minute, so it is stamped with the minute
 *   it runs, and the tick it stands in for is recorded as `catchUpFor`. Naming an 11:42 backup
 *   "03:15" would let an admin who wants "the backup before the ransomware hit" pick wrong data.
 * Pure; no I/O.
 */
import { formatStamp } from './names.js';

export interface RunStamp {
  stamp: string;
  /** The missed tick's stamp when the run is late; null for a run on time. */
  catchUpFor: string | null;
}

export function runStamp(scheduled: Date, now: Date, timeZone: string): RunStamp {
  const tick = formatStamp(scheduled, timeZone);
  if (now.getTime() <= scheduled.getTime()) return { stamp: tick, catchUpFor: null };
  const current = formatStamp(now, timeZone);
  return current === tick ? { stamp: tick, catchUpFor: null } : { stamp: current, catchUpFor: tick };
}

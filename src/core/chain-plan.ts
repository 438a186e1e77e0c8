/**
 * The level of the next archive of a volume in incremental mode (issue 16), as a pure decision:
 * continue the chain of the newest archive (level + 1), or start a new full (level 0), and why.
 * The caller (src/jobs/archive-level.ts) has found out whether the newest archive can be continued
 * at all (snapshot and bases sound, verification not failed).
 */
import { parseArchiveName, stampWeekday } from './names.js';

export interface ChainPolicy {
  /** A chain holds at most this many archives (the full included). */
  fullEvery: number;
  /** A new full on the first run of this weekday (0 = Sunday … 6), or null. */
  fullOn: number | null;
}

export interface ChainTip {
  /** Level of the newest archive. */
  level: number;
  /** File name of its chain's full. */
  full: string;
}

export type LevelChoice = { level: 0; why: string } | { level: number; why?: undefined };

export function nextLevel(tip: ChainTip, stamp: string, policy: ChainPolicy): LevelChoice {
  if (tip.level + 1 >= policy.fullEvery) return { level: 0, why: `the chain of ${tip.full} has reached ${policy.fullEvery} archives (fullEvery)` };
  const fullDay = parseArchiveName(tip.full)?.stamp.slice(0, 10);
  if (policy.fullOn !== null && stampWeekday(stamp) === policy.fullOn && fullDay !== stamp.slice(0, 10)) {
    return { level: 0, why: `the first run on weekday ${policy.fullOn} starts a new full (fullOn)` };
  }
  return { level: tip.level + 1 };
}

/** The clock of the schedule: its time zone, missed runs, and the workers' upkeep of the job schedulers. */
import { isValidTimeZone } from '../../core/cron.js';
import { parseRetentionPolicy, type RetentionPolicy } from '../../core/retention-policy.js';
import { flag, seconds, variable, type Parsed } from './variables.js';

export const schedule = {
  title: 'Schedule',
  variables: {
    TZ: variable(
      { envExample: true, defaultText: 'system zone', doc: 'time zone of the schedule and of archive names, e.g. `Europe/Zurich`' },
      parseTimeZone,
    ),
    CATCH_UP: flag({ default: true, doc: 'run once for a scheduled tick that was missed (at start, or when the tick\'s job runs late)' }),
    LOCAL_RETENTION: variable(
      { defaultText: 'the schedule\'s `keep`', envExample: true, doc: 'local retention in `BACKUP_DIR` instead of the schedule\'s `keep`: `gfs:DAYS/WEEKS/MONTHS` (grandfather-father-son, e.g. `gfs:7/4/12`)' },
      (raw): Parsed<RetentionPolicy> => {
        const p = parseRetentionPolicy(raw);
        if ('problem' in p) return p;
        if (p.kind !== 'gfs') return { problem: `takes gfs:DAYS/WEEKS/MONTHS only (keep N is the schedule's keep; never deleting fills the disk), got "${raw}"` };
        return { value: p };
      },
    ),
    MAINTENANCE_INTERVAL: seconds({
      min: 1,
      max: 3600,
      default: 60,
      doc: 'seconds between the workers\' checks that re-create a lost or changed job scheduler from the stored schedule, recover interrupted restores and rebuild the off-site copy records after Redis lost its data',
    }),
  },
};

/** The machine's own zone, for an unset TZ. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function parseTimeZone(raw: string): Parsed<string> {
  // A leading ':' is the glibc way of naming a zone file; Intl wants the bare name.
  const tz = raw.startsWith(':') ? raw.slice(1) : raw;
  if (!isValidTimeZone(tz)) return { problem: `unknown time zone "${raw}" (e.g. Europe/Zurich)` };
  return { value: tz };
}

/**
 * Off-site copies (Stufe 2): where rclone sends them, how they are encrypted and how long they are
 * kept. RCLONE_CONFIG and OFFSITE_AGE_IDENTITY_FILE are paths of mounted secrets: the service hands
 * them to rclone and age, and never writes their content anywhere.
 */
import { recipientKey } from '../../engine/offsite/age-encrypt.js';
import { parseRetentionPolicy, type RetentionPolicy } from '../../core/retention-policy.js';
import { integer, seconds, text, variable, type Parsed } from './variables.js';

/** An rclone remote name (letters, digits, `_ - . +` and blanks, not first) and a path after the colon. */
// A remote's name never starts with '-' (rclone's rule too): it goes on rclone's command line,
// where it would be read as an option.
const TARGET = /^[\w.+@][\w.+@ -]*:[^,]*$/;
const AGE_RECIPIENT = /^age1[ac-hj-np-z02-9]{58}$/;
/** rclone's --bwlimit: a rate (`4M`, `512k`, `off`), upload:download (`10M:1M`), or a timetable of `HH:MM,rate` items. */
const BWLIMIT = /^(?:(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)-)?\d{2}:\d{2},)?(?:off|\d+(?:\.\d+)?[BKMGTP]?(?::\d+(?:\.\d+)?[BKMGTP]?)?)(?:\s+(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)-)?\d{2}:\d{2},(?:off|\d+(?:\.\d+)?[BKMGTP]?(?::\d+(?:\.\d+)?[BKMGTP]?)?))*$/i;

export const offsite = {
  title: 'Off-site copies',
  variables: {
    OFFSITE_TARGETS: variable({ envExample: true, doc: 'rclone targets that get a copy of every verified archive, comma-separated `remote:path` (e.g. `swiss-s3:practice-backup,nas:/backup/oob`; a remote name never starts with `-`); unset = no off-site copies' }, parseTargets),
    RCLONE_CONFIG: text({ defaultText: 'rclone\'s own default', doc: 'path of rclone\'s config file, which defines the remotes (mount it as a secret; its values never appear in logs, job data or API answers); with `OFFSITE_TARGETS` the file must exist at start' }),
    OFFSITE_AGE_RECIPIENTS: variable({ envExample: true, doc: 'age public keys (`age1…`, comma-separated): copies are encrypted to them as `<file>.age`; unset = plain copies (see "Off-site copies")' }, parseRecipients),
    OFFSITE_AGE_IDENTITY_FILE: text({ doc: 'age identity file (private key) for restores from encrypted copies; better given with the confirmation and never kept on the server' }),
    OFFSITE_BWLIMIT: variable({ envExample: true, doc: 'rclone `--bwlimit` of each transfer, e.g. `2M` (bytes/s), `10M:1M`, or a timetable `08:00,512k 19:00,off`; unset = unlimited' }, (raw): Parsed<string> =>
      BWLIMIT.test(raw) ? { value: raw } : { problem: `must be an rclone bandwidth limit like 2M, 10M:1M or "08:00,512k 19:00,off", got "${raw}"` }),
    OFFSITE_RETENTION: variable({ default: 'keep:30', envExample: true, doc: 'retention on the targets: `keep:N`, `gfs:DAYS/WEEKS/MONTHS` or `never` (object lock), for all targets, then `remote:path=policy` items for single ones, blank-separated' }, parseTargetRetention),
    OFFSITE_COPY_ATTEMPTS: integer({ min: 1, max: 50, default: 12, envExample: true, doc: 'attempts per copy job (exponential backoff from `OFFSITE_RETRY_DELAY`; 12 attempts ≈ 2.8 days at the default)' }),
    OFFSITE_RETRY_DELAY: seconds({ min: 0.01, max: 86_400, fractions: true, default: 60, envExample: true, doc: 'seconds before a failed copy is tried again, doubling with each attempt' }),
  },
};

function parseTargets(raw: string): Parsed<string[]> {
  const targets = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of targets) {
    if (TARGET.test(t)) continue;
    // What an admin tries first for a local disk or NAS mount (found by a tester): say what to do.
    const hint = t.startsWith(':') || t.startsWith('/')
      ? ' (a remote defined in RCLONE_CONFIG, not an rclone connection string or a plain path: for a local directory add "[nas]" with "type = local" to rclone.conf and use nas:/srv/backup)'
      : '';
    return { problem: `expected rclone remote:path items separated by commas, got "${t}"${hint}` };
  }
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup) return { problem: `target "${dup}" is listed twice` };
  return { value: targets };
}

function parseRecipients(raw: string): Parsed<string[]> {
  const keys = raw.split(/[\s,]+/).filter(Boolean);
  // A public key is not a secret, but a private key pasted here by mistake is: never echo it.
  if (keys.some((k) => k.toUpperCase().startsWith('AGE-SECRET-KEY'))) return { problem: 'holds a private key (AGE-SECRET-KEY-…): give the public key (age1…) here, never the private one' };
  const bad = keys.findIndex((k) => !AGE_RECIPIENT.test(k));
  if (bad >= 0) return { problem: `entry ${bad + 1} is not an age public key (age1 followed by 58 characters), got "${keys[bad]}"` };
  // The checksum and the key itself too: copies are encrypted to these keys, a mistyped one (or a
  // low-order point, to which nothing can be encrypted) would fail every copy.
  for (const [i, k] of keys.entries()) {
    try {
      recipientKey(k);
    } catch (err) {
      return { problem: `entry ${i + 1}: ${(err as Error).message}` };
    }
  }
  return { value: keys };
}

export interface TargetRetention {
  /** The policy of targets not named below. */
  all: RetentionPolicy;
  byTarget: Record<string, RetentionPolicy>;
}

function parseTargetRetention(raw: string): Parsed<TargetRetention> {
  const result: TargetRetention = { all: { kind: 'keep', keep: 30 }, byTarget: {} };
  for (const item of raw.split(/\s+/).filter(Boolean)) {
    const eq = item.lastIndexOf('=');
    const policy = parseRetentionPolicy(eq >= 0 ? item.slice(eq + 1) : item);
    if ('problem' in policy) return policy;
    if (eq >= 0) result.byTarget[item.slice(0, eq)] = policy;
    else result.all = policy;
  }
  return { value: result };
}

/**
 * Archive names and run stamps. An archive is `<volume>_YYYY-MM-DD-HHmm.tar.gz`, the stamp being
 * the run's scheduled minute in the configured time zone (the naming earlier OOB versions used, so
 * their archives are listed and restorable too). Pure functions, no I/O.
 */

export const VOLUME_NAME = /^[a-z0-9][a-z0-9-]*$/;
export const STAMP = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})$/;
const ARCHIVE = /^([a-z0-9][a-z0-9-]*)_(\d{4}-\d{2}-\d{2}-\d{4})\.(tar\.gz|inc\.tar\.gz|sql\.gz)$/;

/** A volume archive (`.tar.gz`) or a logical database dump (`.sql.gz`), both in the same naming. */
export type ArchiveKind = 'volume' | 'sql';

export interface ArchiveName {
  /** The volume name, or for a dump its dump name (e.g. elexisdb-sql); generations count per name. */
  volume: string;
  stamp: string;
  file: string;
  kind: ArchiveKind;
  /**
   * An incremental archive (`<volume>_<stamp>.inc.tar.gz`, GNU tar's listed-incremental level ≥ 1):
   * restorable only together with the archives its manifest names. A full is `.tar.gz`.
   */
  incremental: boolean;
}

export function isValidVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

export function isValidStamp(stamp: string): boolean {
  const m = STAMP.exec(stamp);
  if (!m) return false;
  const [, , mo, d, h, mi] = m.map(Number) as number[];
  return mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= 31 && h! <= 23 && mi! <= 59;
}

export function archiveFileName(volume: string, stamp: string, incremental = false): string {
  return `${volume}_${stamp}.${incremental ? 'inc.' : ''}tar.gz`;
}

/** Both names a run's archive of a volume can have (full, incremental); at most one exists. */
export function runArchiveNames(volume: string, stamp: string): [string, string] {
  return [archiveFileName(volume, stamp), archiveFileName(volume, stamp, true)];
}

export function dumpFileName(dumpName: string, stamp: string): string {
  return `${dumpName}_${stamp}.sql.gz`;
}

/** The weekday of a stamp's local date, 0 = Sunday … 6 = Saturday (as cron counts). */
export function stampWeekday(stamp: string): number {
  const m = STAMP.exec(stamp);
  if (!m) throw new Error(`not a stamp: ${stamp}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay();
}

/** Parses a file name of BACKUP_DIR; anything not exactly our naming is not ours (undefined). */
export function parseArchiveName(file: string): ArchiveName | undefined {
  const m = ARCHIVE.exec(file);
  if (!m || !isValidStamp(m[2]!)) return undefined;
  return { volume: m[1]!, stamp: m[2]!, file, kind: m[3] === 'sql.gz' ? 'sql' : 'volume', incremental: m[3] === 'inc.tar.gz' };
}

/**
 * One formatter per time zone: creating an Intl.DateTimeFormat costs far more than using one, and
 * every listing turns each set's stamp into an instant (measured: a quarter of the API's CPU under
 * load before this cache).
 */
const stampFormats = new Map<string, Intl.DateTimeFormat>();

function stampFormat(timeZone: string): Intl.DateTimeFormat {
  let f = stampFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    stampFormats.set(timeZone, f);
  }
  return f;
}

/** The minute `date` falls in, as a stamp in `timeZone` (seconds are dropped, never rounded up). */
export function formatStamp(date: Date, timeZone: string): string {
  const parts = stampFormat(timeZone).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}-${get('hour')}${get('minute')}`;
}

/**
 * The instant a stamp names in `timeZone`. Local times are ambiguous once a year (DST fall-back);
 * we take the first of the two, which is what a listing needs to sort and display.
 */
export function stampToDate(stamp: string, timeZone: string): Date {
  const m = STAMP.exec(stamp);
  if (!m) throw new Error(`not a stamp: ${stamp}`);
  const [, y, mo, d, h, mi] = m.map(Number) as number[];
  const asUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!);
  // Guess the offset, then correct once more for instants near a DST change.
  let guess = asUtc - offsetMs(new Date(asUtc), timeZone);
  guess = asUtc - offsetMs(new Date(guess), timeZone);
  return new Date(guess);
}

/**
 * Every instant whose stamp this is, earliest first: two in the hour that the change back from
 * summer time repeats (02:45 of the last Sunday in October is 00:45 and 01:45 UTC in Zurich), one
 * otherwise (a stamp in the hour that the change to summer time skips: stampToDate's reading).
 * Checks of "in the future" take the earliest, of "too old" the latest: a run at 02:45 in the
 * repeated hour was refused as an hour ahead (found by a tester).
 */
export function stampInstants(stamp: string, timeZone: string): Date[] {
  const m = STAMP.exec(stamp);
  if (!m) throw new Error(`not a stamp: ${stamp}`);
  const [, y, mo, d, h, mi] = m.map(Number) as number[];
  const asUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!);
  const found = new Set<number>();
  // The zone's offsets half a day before and after: every offset that can apply to this minute.
  for (const probe of [asUtc - 14 * 3600_000, asUtc, asUtc + 14 * 3600_000]) {
    const t = asUtc - offsetMs(new Date(probe), timeZone);
    if (formatStamp(new Date(t), timeZone) === stamp) found.add(t);
  }
  if (found.size === 0) return [stampToDate(stamp, timeZone)];
  return [...found].sort((a, b) => a - b).map((t) => new Date(t));
}

function offsetMs(date: Date, timeZone: string): number {
  const local = formatStamp(date, timeZone);
  const m = STAMP.exec(local)!;
  const [, y, mo, d, h, mi] = m.map(Number) as number[];
  const localAsUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!);
  const minute = Math.floor(date.getTime() / 60_000) * 60_000;
  return localAsUtc - minute;
}

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

function offsetMs(date: Date, timeZone: string): number {
  const local = formatStamp(date, timeZone);
  const m = STAMP.exec(local)!;
  const [, y, mo, d, h, mi] = m.map(Number) as number[];
  const localAsUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!);
  const minute = Math.floor(date.getTime() / 60_000) * 60_000;
  return localAsUtc - minute;
}

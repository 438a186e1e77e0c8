/**
 * pax extended header records: `<length> <keyword>=<value>\n`, where <length> is the decimal byte
 * count of the whole record including itself. A value may contain anything, newlines included
 * (a file name may), so records are cut by their length, never by searching for newlines: a name
 * such as `a\n19 path=config.txt\n` is one value, not two records.
 */

export interface PaxRecord {
  key: string;
  /** Binary string (one char per byte): path and linkpath values are taken as bytes, as GNU tar does. */
  value: string;
}

export class PaxError extends Error {}

/** All records in order (several with the same keyword are kept: GNU sparse 0.0 maps repeat them). */
export function parsePax(body: Buffer): PaxRecord[] {
  const records: PaxRecord[] = [];
  let off = 0;
  while (off < body.length) {
    // GNU tar stops at the padding: a NUL where the next record's length would start.
    if (body[off] === 0) break;
    const space = body.indexOf(0x20, off);
    if (space === -1 || space === off || space - off > 20) throw new PaxError('malformed extended header: missing length');
    const lenText = body.toString('latin1', off, space);
    if (!/^[0-9]+$/.test(lenText)) throw new PaxError(`malformed extended header: length ${JSON.stringify(lenText)} is not a number`);
    const len = Number(lenText);
    const end = off + len;
    if (len <= space - off + 1 || end > body.length) throw new PaxError(`malformed extended header: record length ${len} is out of range`);
    if (body[end - 1] !== 0x0a) throw new PaxError('malformed extended header: record does not end with a newline');
    const eq = body.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end - 1) throw new PaxError('malformed extended header: record without "="');
    records.push({ key: body.toString('latin1', space + 1, eq), value: body.toString('latin1', eq + 1, end - 1) });
    off = end;
  }
  return records;
}

/** A decimal integer value (uid, gid, size, GNU sparse numbers). */
export function paxInteger(r: PaxRecord, min = 0): number {
  if (!/^-?[0-9]+$/.test(r.value)) throw new PaxError(`extended header ${r.key}=${JSON.stringify(r.value)} is not an integer`);
  const v = Number(r.value);
  if (!Number.isSafeInteger(v) || v < min) throw new PaxError(`extended header ${r.key}=${r.value} is out of range`);
  return v;
}

/**
 * A time value `[-]seconds[.fraction]` as floor seconds and nanoseconds (0 … 999999999), the way
 * GNU tar reads it: digits beyond nanoseconds are dropped, a negative time with a fraction is
 * rounded toward minus infinity ("-5.25" is -6 s + 0.75 s), and whatever follows the number is
 * ignored (GNU tar's decode_timespec stops there). Python's tarfile writes a time within 0.1 ms of
 * the epoch as `-9.999999717180685e-10`: GNU tar extracts that archive, so must we, and read the
 * time as it does, or the two readers disagree.
 */
export function paxTime(r: PaxRecord): { sec: number; nsec: number } {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?/.exec(r.value);
  if (!m) throw new PaxError(`extended header ${r.key}=${JSON.stringify(r.value)} is not a time`);
  const negative = m[1] === '-';
  const whole = Number(m[2]);
  if (!Number.isSafeInteger(whole)) throw new PaxError(`extended header ${r.key}=${r.value} is out of range`);
  const digits = m[3] ?? '';
  let nsec = Number(digits.slice(0, 9).padEnd(9, '0'));
  // GNU tar: any nonzero digit beyond nanoseconds still makes a negative time one tick earlier.
  if (negative && /[1-9]/.test(digits.slice(9))) nsec += 1;
  if (!negative) return { sec: whole, nsec };
  if (nsec === 0) return { sec: whole === 0 ? 0 : -whole, nsec: 0 };
  return { sec: -whole - 1, nsec: 1e9 - nsec };
}

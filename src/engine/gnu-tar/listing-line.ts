/**
 * One line of GNU tar's long listing (`tar --list --verbose --numeric-owner --full-time --utc
 * --quoting-style=c`, LC_ALL=C; see list-archive.ts) back into an EntryRecord.
 *
 * Entries that are no file-system object: a volume label ('V', also pax GNU.volume.label) is
 * skipped, as GNU tar extracts nothing for it; a multi-volume continuation ('M') is refused (that
 * part of a file cannot be checked alone), as is any type GNU tar itself calls unknown. A GNU
 * dumpdir ('D', from --listed-incremental) is a directory; its size (the length of its list of
 * names) is not content and becomes 0 like every directory's.
 *
 * What the listing shows that is not simply the stored header field (found by experiment):
 * - a pax `path`/`linkpath` (or GNU long name/link) instead of the ustar fields, the last of several
 *   consecutive pax headers, a global header's `path`/`uid`/`mtime` for every later entry without
 *   its own, GNU.sparse.name instead of the "GNUSparseFile.N/…" ustar name, the sparse file's real
 *   size instead of the stored data size, prefix + "/" + name for a ustar prefix;
 * - type 'd' for a regular file ('0' or '\0') whose name ends in "/" (GNU tar treats it as a
 *   directory), 'd' also for a GNU dumpdir ('D'), 'C' for contiguous files, 'h' for hard links;
 *   a contiguous file whose name ends in "/" is listed as 'C' but extracted as a directory, so it
 *   is read here as the directory GNU tar restores;
 * - a mode only as its 12 permission bits (higher bits of the mode field are not shown);
 * - for a pre-1970 mtime with a fraction: the seconds truncated toward zero and the fraction's
 *   magnitude ("-5.25" → "1969-12-31 23:59:55.25"), so a time between -1 and 0 prints like its
 *   positive counterpart (-0.25 and 0.25 both as "1970-01-01 00:00:00.25"; we read the positive one);
 * - years unpadded and possibly negative ("1-01-01", "-1-12-31", "10000-01-01"); a year beyond
 *   2147483647 wrapped by 2^32 (glibc's strftime overflows: "-2147483648-01-01" is year 2147483648);
 *   beyond what gmtime can break down, the plain number of seconds ("-67768040609740801.25").
 */
import type { EntryRecord, EntryType } from '../entry-record.js';

const TYPES: Record<string, EntryType | undefined> = {
  '-': 'file',
  C: 'file', // contiguous file: a regular file to every reader but a few 1980s systems
  d: 'dir', // also GNU dumpdirs ('D', --listed-incremental) and regular files whose name ends in "/"
  h: 'hardlink',
  l: 'symlink',
  c: 'char',
  b: 'block',
  p: 'fifo',
};

/**
 * "<type><9 mode chars> <uid>/<gid> <size or major,minor> <time> " then the quoted name. Fields are
 * padded to sticky widths (the uid/gid/size and time columns grow with the widest value seen so far),
 * so any run of spaces separates them; the time cannot contain '"', so the name starts at the first '"'.
 */
const HEAD = /^(.)([-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT])[ .+*]? (\d+)\/(\d+) +(\d+|\d+,\d+) +([^"]*?) +"/;
const DATE_TIME = /^(-?\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$/;
const PLAIN_SECONDS = /^(-?)(\d+)(?:\.(\d{1,9}))?$/;

/** Parses one line of `tar --list --verbose --numeric-owner --full-time --utc --quoting-style=c` (C locale). */
export function parseGnuTarLine(line: string | Buffer): EntryRecord {
  const record = parseListingLine(typeof line === 'string' ? line : line.toString('latin1'));
  if (!record) throw new Error('this is a volume label, not an archive entry');
  return record;
}

/** The record of one line, or null for a volume label; `text` holds one byte per character (latin1). */
export function parseListingLine(text: string): EntryRecord | null {
  if (text.endsWith('\n')) text = text.slice(0, -1);
  const head = HEAD.exec(text);
  if (!head) throw new Error('not a line of GNU tar\'s verbose listing (type, mode, owner, size, time, "name")');
  const [, typeChar = '', modeChars = '', uid = '', gid = '', sizeField = '', time = ''] = head;
  const name = readQuoted(text, head[0].length - 1);
  const rest = text.slice(name.end);

  if (typeChar === 'V' && rest === '--Volume Header--') return null;
  if (typeChar === 'M') throw new Error('the archive continues a multi-volume set (a file split from the previous volume)');
  const type = typeChar === 'C' && name.bytes.at(-1) === 0x2f ? 'dir' : TYPES[typeChar];
  if (!type) throw new Error(`an entry GNU tar does not know (type '${typeChar}'${rest ? `, "${rest.trim()}"` : ''})`);

  let link: Buffer | undefined;
  const arrow = type === 'symlink' ? ' -> ' : type === 'hardlink' ? ' link to ' : undefined;
  if (arrow) {
    if (!rest.startsWith(`${arrow}"`)) throw new Error(`a ${type} without "${arrow.trim()}" and its target`);
    const target = readQuoted(text, name.end + arrow.length);
    if (target.end !== text.length) throw new Error('text after the link target');
    link = target.bytes;
  } else if (rest !== '') {
    throw new Error('text after the name');
  }

  const device = type === 'char' || type === 'block';
  if (device !== sizeField.includes(',')) throw new Error(device ? 'a device without major,minor' : 'major,minor on an entry that is no device');
  // A hard link's and a directory's size column says nothing about content (GNU tar reads no data for them).
  const size = type === 'file' ? safeInteger(BigInt(sizeField), 'size') : 0;

  return {
    type,
    name: name.bytes,
    link,
    size,
    mode: parseMode(modeChars),
    uid: safeInteger(BigInt(uid), 'uid'),
    gid: safeInteger(BigInt(gid), 'gid'),
    ...parseTime(time),
  };
}

function safeInteger(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${value} is beyond 2^53`);
  return Number(value);
}

/** "rwsr-x--T" → 0o4750 | 0o1000: s/t = the special bit with execute, S/T = without. */
function parseMode(chars: string): number {
  let mode = 0;
  for (let i = 0; i < 9; i++) {
    const c = chars[i];
    const bit = 1 << (8 - i);
    if (c === 'r' || c === 'w' || c === 'x' || c === 's' || c === 't') mode |= bit;
    if (i % 3 === 2 && (c === 's' || c === 'S' || c === 't' || c === 'T')) mode |= 0o1000 << (2 - Math.floor(i / 3));
  }
  return mode;
}

/**
 * GNU tar's printed time back to floor seconds and nanoseconds. It prints trunc(t) (toward zero) and
 * |t - trunc(t)| as the fraction, so a negative time with a fraction is (shown - 1, 1e9 - fraction).
 */
function parseTime(time: string): { mtimeSec: number; mtimeNsec: number } {
  let shown: bigint;
  let fraction: string | undefined;
  const dt = DATE_TIME.exec(time);
  if (dt) {
    const [, y = '', mo = '', d = '', h = '', mi = '', s = ''] = dt;
    fraction = dt[7];
    let year = Number(y);
    // glibc's strftime adds 1900 to tm_year in an int: years 2^31 … 2^31+1899 come out 2^32 too low,
    // below the lowest year gmtime can produce (INT_MIN + 1900).
    if (year < -2147483648 + 1900) year += 2 ** 32;
    const [month, day, hour, minute, second] = [mo, d, h, mi, s].map(Number) as [number, number, number, number, number];
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
      throw new Error(`not a time: "${time}"`);
    }
    shown = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + minute * 60 + second);
  } else {
    // Beyond what gmtime can break down GNU tar prints the seconds as a number (sign, digits, fraction).
    const plain = PLAIN_SECONDS.exec(time);
    if (!plain) throw new Error(`not a time: "${time}"`);
    shown = BigInt(`${plain[1]}${plain[2]}`);
    fraction = plain[3];
    if (plain[1] === '-' && shown === 0n) throw new Error(`not a time: "${time}"`);
  }
  const nsec = fraction ? Number(fraction.padEnd(9, '0')) : 0;
  const [sec, ns] = shown < 0n && nsec > 0 ? [shown - 1n, 1e9 - nsec] : [shown, nsec];
  // Beyond 2^53 seconds (year 285 million) a number cannot hold every second: the nearest one is used.
  return { mtimeSec: Number(sec), mtimeNsec: ns };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); exact in doubles for any int year. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

// ---------------------------------------------------------------------------------------------
// quotearg's "c" style

const ESCAPES: Record<string, number | undefined> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };

/**
 * The bytes of a string printed in GNU quotearg's `c` style: `"` … `"` with \a \b \f \n \r \t \v,
 * octal escapes (three digits; a lone "\0" for NUL), and a backslash before `"`, `\` (and `?` or any
 * other punctuation that tar's --quote-chars was told to quote). Characters are bytes (latin1); a raw
 * byte >= 0x80 (as a non-C locale would print it) stands for itself.
 */
export function unquoteC(s: string | Buffer): Buffer {
  const text = typeof s === 'string' ? s : s.toString('latin1');
  const { bytes, end } = readQuoted(text, 0);
  if (end !== text.length) throw new Error(`text after the closing quote: ${JSON.stringify(text.slice(end))}`);
  return bytes;
}

/** The quoted string starting at `text[start]` (a '"'): its bytes and the index after its closing quote. */
export function readQuoted(text: string, start: number): { bytes: Buffer; end: number } {
  if (text[start] !== '"') throw new Error('a quoted name must start with \'"\'');
  const out = Buffer.allocUnsafe(text.length - start);
  let n = 0;
  let i = start + 1;
  for (;;) {
    if (i >= text.length) throw new Error('a quoted name without its closing quote');
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new Error(`character U+${c.toString(16)} is no byte`);
    if (c === 0x22) {
      // quotearg can split a string (`?""?` against C trigraphs): a quote right after one continues it.
      if (text[i + 1] === '"') {
        i += 2;
        continue;
      }
      return { bytes: Buffer.from(out.subarray(0, n)), end: i + 1 };
    }
    if (c !== 0x5c) {
      out[n++] = c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) throw new Error('a quoted name ends in a lone backslash');
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (octal) {
      const value = parseInt(octal[0], 8);
      if (value > 0xff) throw new Error(`octal escape \\${octal[0]} is beyond a byte`);
      out[n++] = value;
      i += 1 + octal[0].length;
      continue;
    }
    const simple = ESCAPES[e];
    if (simple !== undefined) out[n++] = simple;
    else if (/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e ]$/.test(e)) out[n++] = e.charCodeAt(0);
    else throw new Error(`unknown escape \\${e}`);
    i += 2;
  }
}

/**
 * The 512-byte tar header, read and written byte for byte the way GNU tar 1.34 does.
 *
 * Names are "binary strings" here (one char per byte, `latin1`): tar names are bytes, not text,
 * and a binary string carries every byte unchanged while staying cheap to slice, join and compare.
 *
 * Writing uses GNU tar's default format (`tar -czf`, `--format=gnu`) with numeric owners: names of
 * 100 bytes or more go into a preceding `././@LongLink` entry ('L' for the name, 'K' for a link
 * target) that carries the exact bytes; numbers that do not fit their octal field (uid/gid beyond
 * 2097151, sizes of 8 GiB and more, mtimes before 1970 or after 2242) are written in base-256.
 * The result is the very stream `tar --format=gnu --numeric-owner -cf - .` writes for the same
 * tree (a test compares them), so every tool that reads GNU tar's archives reads ours.
 */

export const BLOCK = 512;

/** Field offsets and lengths of the POSIX ustar header (GNU's differs after `magic`). */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 8],
  uname: [265, 32],
  gname: [297, 32],
  prefix: [345, 155],
} as const;

/** Old GNU sparse header fields (type 'S'): 4 map entries, the "more maps follow" flag, the real size. */
const GNU_SPARSE_AT = 386;
const GNU_IS_EXTENDED_AT = 482;
const GNU_REALSIZE_AT = 483;
/** An extension block holds 21 map entries and its own "more follow" flag at 504. */
const EXT_ENTRIES = 21;
const EXT_IS_EXTENDED_AT = 504;

export const MAGIC_GNU = 'ustar  \0';
export const MAGIC_USTAR = 'ustar\x0000';
export const LONGLINK_NAME = '././@LongLink';

/** A header as stored (before any pax or long-name override). */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  format: 'gnu' | 'ustar' | 'v7';
  /** Old GNU sparse ('S'): the map entries in this header, whether extension blocks follow, the real size. */
  sparse?: { map: number[]; extended: boolean; realSize: number };
}

export class HeaderError extends Error {}

/** Reads a NUL-terminated field as a binary string. */
function str(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('latin1', off, end === -1 || end > off + len ? off + len : end);
}

/**
 * A numeric field: octal digits (leading spaces allowed, ended by NUL or space) or GNU's base-256
 * (first byte 0x80 for positive, 0xff for negative numbers, big-endian two's complement).
 */
export function parseNumber(buf: Buffer, off: number, len: number, what: string): number {
  const first = buf[off]!;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[off + i]!);
    if (first & 0x40) v -= 1n << BigInt(8 * len - 1); // sign bit of the (len*8 - 1)-bit number
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new HeaderError(`${what} ${v} is out of the range this service can handle`);
    }
    return Number(v);
  }
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) {
    if (buf[i] === 0 && i === off) return 0; // an empty (all-NUL) field
    i++;
  }
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new HeaderError(`invalid tar header: the ${what} field is not an octal number`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) {
    if (buf[i] !== 0 && buf[i] !== 0x20) throw new HeaderError(`invalid tar header: the ${what} field has junk after its number`);
  }
  if (digits === 0) return 0;
  if (!Number.isSafeInteger(v)) throw new HeaderError(`${what} is out of the range this service can handle`);
  return v;
}

/** Unsigned and (for very old tars) signed byte sums of a header with its checksum field as spaces. */
function checksums(buf: Buffer, off: number): [number, number] {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : buf[off + i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return [unsigned, signed];
}

export function isZeroBlock(buf: Buffer, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Decodes one header block; throws HeaderError for a checksum mismatch or a malformed number. */
export function decodeHeader(buf: Buffer, off: number): RawHeader {
  const field = (f: readonly [number, number]) => [off + f[0], f[1]] as const;
  const stored = parseNumber(buf, ...field(F.chksum), 'checksum');
  const [unsigned, signed] = checksums(buf, off);
  if (stored !== unsigned && stored !== signed) throw new HeaderError('tar header checksum error');
  const magic = buf.toString('latin1', off + F.magic[0], off + F.magic[0] + 8);
  const format = magic === MAGIC_GNU ? 'gnu' : magic.startsWith('ustar\0') ? 'ustar' : 'v7';
  let name = str(buf, ...field(F.name));
  if (format === 'ustar') {
    const prefix = str(buf, ...field(F.prefix));
    if (prefix) name = `${prefix}/${name}`;
  }
  const typeflag = String.fromCharCode(buf[off + F.typeflag[0]]!);
  const h: RawHeader = {
    name,
    mode: parseNumber(buf, ...field(F.mode), 'mode'),
    uid: parseNumber(buf, ...field(F.uid), 'uid'),
    gid: parseNumber(buf, ...field(F.gid), 'gid'),
    size: parseNumber(buf, ...field(F.size), 'size'),
    mtime: parseNumber(buf, ...field(F.mtime), 'mtime'),
    typeflag,
    linkname: str(buf, ...field(F.linkname)),
    format,
  };
  if (typeflag === 'S' && format === 'gnu') {
    h.sparse = {
      map: parseSparseEntries(buf, off + GNU_SPARSE_AT, 4),
      extended: buf[off + GNU_IS_EXTENDED_AT] !== 0,
      realSize: parseNumber(buf, off + GNU_REALSIZE_AT, 12, 'sparse real size'),
    };
  }
  if (h.size < 0) throw new HeaderError(`invalid tar header: negative size ${h.size}`);
  return h;
}

/** Old GNU sparse map entries (offset, numbytes pairs of 12-byte numbers); an empty offset ends the list. */
function parseSparseEntries(buf: Buffer, at: number, count: number): number[] {
  const map: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = at + i * 24;
    if (buf[p] === 0) break;
    map.push(parseNumber(buf, p, 12, 'sparse offset'), parseNumber(buf, p + 12, 12, 'sparse length'));
  }
  return map;
}

/** An old GNU sparse extension block: its map entries and whether another block follows. */
export function decodeSparseExtension(buf: Buffer, off: number): { map: number[]; extended: boolean } {
  return { map: parseSparseEntries(buf, off, EXT_ENTRIES), extended: buf[off + EXT_IS_EXTENDED_AT] !== 0 };
}

// ---------------------------------------------------------------------------------------------
// Writing

export type WriteType = '0' | '1' | '2' | '5';

export interface WriteHeader {
  /** Binary string ("./a/b", directories with their trailing "/"). */
  name: string;
  type: WriteType;
  /** Binary string: symlink target or, for a hard link, the archive name of the first link. */
  linkname?: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds since the epoch (GNU format stores no fraction); may be negative. */
  mtime: number;
}

/** Writes `value` into a numeric field of `len` bytes as GNU tar does: octal + NUL, else base-256. */
function putNumber(buf: Buffer, off: number, len: number, value: number): void {
  if (value >= 0 && value < 8 ** (len - 1)) {
    buf.write(value.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
    buf[off + len - 1] = 0;
    return;
  }
  let v = BigInt(value);
  if (v < 0n) v += 1n << BigInt(8 * len); // two's complement over the whole field
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] = value < 0 ? 0xff : 0x80;
}

function putHeader(buf: Buffer, off: number, h: { name: string; type: string; linkname?: string; size: number; mode: number; uid: number; gid: number; mtime: number }): void {
  buf.fill(0, off, off + BLOCK);
  buf.write(h.name, off + F.name[0], Math.min(h.name.length, F.name[1]), 'latin1');
  putNumber(buf, off + F.mode[0], F.mode[1], h.mode);
  putNumber(buf, off + F.uid[0], F.uid[1], h.uid);
  putNumber(buf, off + F.gid[0], F.gid[1], h.gid);
  putNumber(buf, off + F.size[0], F.size[1], h.size);
  putNumber(buf, off + F.mtime[0], F.mtime[1], h.mtime);
  buf.write(h.type, off + F.typeflag[0], 1, 'latin1');
  if (h.linkname) buf.write(h.linkname, off + F.linkname[0], Math.min(h.linkname.length, F.linkname[1]), 'latin1');
  buf.write(MAGIC_GNU, off + F.magic[0], 8, 'latin1');
  buf.fill(0x20, off + F.chksum[0], off + F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (let i = off; i < off + BLOCK; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0'), off + F.chksum[0], 6, 'latin1');
  buf[off + F.chksum[0] + 6] = 0;
  buf[off + F.chksum[0] + 7] = 0x20;
}

function blocksFor(bytes: number): number {
  return Math.ceil(bytes / BLOCK);
}

/**
 * The header blocks of one entry: a `././@LongLink` entry for a link target longer than 100 bytes
 * ('K'), one for a name longer than 100 bytes ('L'), then the header itself (holding the first 100
 * bytes of each, as GNU tar writes them: a name of exactly 100 bytes fills its field without a NUL
 * and needs no long entry). Content and its padding are the caller's.
 */
export function encodeHeader(h: WriteHeader): Buffer {
  const longLink = h.linkname !== undefined && h.linkname.length > F.linkname[1];
  const longName = h.name.length > F.name[1];
  const extra = (longLink ? 1 + blocksFor(h.linkname!.length + 1) : 0) + (longName ? 1 + blocksFor(h.name.length + 1) : 0);
  const buf = Buffer.alloc(BLOCK * (1 + extra));
  let off = 0;
  const long = (type: 'K' | 'L', value: string) => {
    putHeader(buf, off, { name: LONGLINK_NAME, type, size: value.length + 1, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
    buf.write(value, off + BLOCK, value.length, 'latin1'); // the NUL and the padding are already zero
    off += BLOCK * (1 + blocksFor(value.length + 1));
  };
  if (longLink) long('K', h.linkname!);
  if (longName) long('L', h.name);
  putHeader(buf, off, h);
  return buf;
}

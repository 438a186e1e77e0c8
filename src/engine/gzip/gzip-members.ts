/**
 * The gzip members our writer produces, and the error a reader raises for damaged gzip data.
 *
 * RFC 1952 allows any number of members in one file; gzip, GNU tar, pigz, zcat and Node read the
 * concatenation as one stream. Every member we write carries its own length in the gzip header's
 * FEXTRA field (subfield "OB", like BGZF's "BC"): `member length u32le, uncompressed length u32le`.
 * Readers that do not know the subfield skip it, as RFC 1952 requires; our reader uses it to find
 * the members without inflating and inflates several of them concurrently.
 *
 * A member is either zlib's deflate output under our header (`indexedFromZlib`) or, for data that
 * does not compress, the chunk in stored deflate blocks (`storedMember`): a CRC and a copy instead of
 * ~20 ns/byte for nothing. Stored members need zlib.crc32 (Node >= 20.15; `canStoreMembers`).
 */
import zlib from 'node:zlib';

/** 2 MiB: fewer members (threadpool round trips, headers, dictionary restarts) than 1 MiB, measurably faster. */
export const DEFAULT_CHUNK_SIZE = 2 * 1024 * 1024;

/** Members larger than this are not trusted as indexed (a forged header must not make us allocate much). */
const MAX_INDEXED_MEMBER = 64 * 1024 * 1024;
const INDEX_SI1 = 0x4f; // 'O'
const INDEX_SI2 = 0x42; // 'B'
/** gzip header with FEXTRA: 10 fixed bytes + XLEN (2) + subfield header (4) + payload (8). */
export const INDEXED_HEADER_LENGTH = 24;
const TRAILER_LENGTH = 8;
const STORED_BLOCK = 65535;

/** The gzip data is damaged, truncated or not gzip: zlib's error with its code, or our own. */
export class GzipDataError extends Error {
  override name = 'GzipDataError';
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function indexedHeader(memberLength: number, rawLength: number, xfl: number): Buffer {
  const h = Buffer.alloc(INDEXED_HEADER_LENGTH);
  h[0] = 0x1f;
  h[1] = 0x8b;
  h[2] = 8; // deflate
  h[3] = 4; // FEXTRA
  // mtime 0 (bytes 4-7), as zlib writes it
  h[8] = xfl;
  h[9] = 3; // Unix
  h.writeUInt16LE(12, 10); // XLEN
  h[12] = INDEX_SI1;
  h[13] = INDEX_SI2;
  h.writeUInt16LE(8, 14);
  h.writeUInt32LE(memberLength, 16);
  h.writeUInt32LE(rawLength, 20);
  return h;
}

/** The member length and uncompressed length of an indexed member header, or undefined. */
export function parseIndexedHeader(b: Buffer): { memberLength: number; rawLength: number } | undefined {
  if (b.length < INDEXED_HEADER_LENGTH) return undefined;
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || b[3] !== 4) return undefined;
  if (b.readUInt16LE(10) !== 12 || b[12] !== INDEX_SI1 || b[13] !== INDEX_SI2 || b.readUInt16LE(14) !== 8) return undefined;
  const memberLength = b.readUInt32LE(16);
  const rawLength = b.readUInt32LE(20);
  if (memberLength < INDEXED_HEADER_LENGTH + 2 + TRAILER_LENGTH || memberLength > MAX_INDEXED_MEMBER || rawLength > MAX_INDEXED_MEMBER) return undefined;
  return { memberLength, rawLength };
}

/** zlib's member (10-byte header, deflate data, trailer) with our indexed header instead. */
export function indexedFromZlib(parts: Buffer[], rawLength: number): Buffer[] {
  let list = parts;
  if ((list[0]?.length ?? 0) < 10) list = [Buffer.concat(list)];
  const first = list[0]!;
  let total = 0;
  for (const p of list) total += p.length;
  if (first.length < 10 || first[0] !== 0x1f || first[1] !== 0x8b) throw new Error('zlib produced no gzip header');
  return [indexedHeader(INDEXED_HEADER_LENGTH + total - 10, rawLength, first[8] ?? 0), first.subarray(10), ...list.slice(1)];
}

const crc32: ((data: Uint8Array, value?: number) => number) | undefined = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Whether this Node can write stored members (it has zlib.crc32); older Nodes compress every chunk. */
export const canStoreMembers = crc32 !== undefined;

/** A complete indexed gzip member with the chunk in stored deflate blocks (no compression). */
export function storedMember(chunk: Buffer): Buffer[] {
  const blocks = Math.max(1, Math.ceil(chunk.length / STORED_BLOCK));
  const memberLength = INDEXED_HEADER_LENGTH + blocks * 5 + chunk.length + TRAILER_LENGTH;
  const parts: Buffer[] = [indexedHeader(memberLength, chunk.length, 0)];
  const blockHeaders = Buffer.allocUnsafe(blocks * 5);
  for (let i = 0; i < blocks; i++) {
    const start = i * STORED_BLOCK;
    const len = Math.min(STORED_BLOCK, chunk.length - start);
    const h = blockHeaders.subarray(i * 5, i * 5 + 5);
    h[0] = i === blocks - 1 ? 1 : 0; // BFINAL on the last block, BTYPE 00 (stored)
    h.writeUInt16LE(len, 1);
    h.writeUInt16LE(~len & 0xffff, 3);
    parts.push(h, chunk.subarray(start, start + len));
  }
  const trailer = Buffer.allocUnsafe(TRAILER_LENGTH);
  trailer.writeUInt32LE(crc32!(chunk) >>> 0, 0);
  trailer.writeUInt32LE(chunk.length >>> 0, 4);
  parts.push(trailer);
  return parts;
}

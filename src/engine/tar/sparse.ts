/**
 * GNU tar's sparse files: a map of (offset, length) segments and the segments' data stored one
 * after the other. Old GNU ('S' headers with extension blocks) keeps the map in headers, pax 0.0 in
 * repeated GNU.sparse.offset/numbytes records, 0.1 in one GNU.sparse.map record, 1.0 as decimal
 * lines at the start of the content (read by Sparse10Map). Maps are checked before any content is
 * handed on: segments in order, inside the file, describing exactly the stored bytes.
 */
import { quoteName } from '../../core/show-name.js';
import { EntryProblem } from './entry-problem.js';

/** Sparse maps with more segments than this are refused (memory stays bounded). */
export const MAX_SPARSE_SEGMENTS = 1 << 20;

/** The GNU.sparse.* records of a pax entry. */
export interface PaxSparse {
  major: number;
  minor: number;
  realSize: number;
  /** 0.0: offset, numbytes, offset, numbytes, … in record order. */
  map: number[];
  /** 0.1: "offset,numbytes,…". */
  map01: string | undefined;
}

export function tooManySegments(path: string): EntryProblem {
  return new EntryProblem('unsupported', `stores ${quoteName(path)} as a sparse file of more than ${MAX_SPARSE_SEGMENTS} segments`);
}

/** The map of a pax 0.0 or 0.1 sparse entry (1.0 keeps it in the content: Sparse10Map). */
export function paxSparseMap(path: string, s: PaxSparse): number[] {
  if (s.major !== -1 && !(s.major === 0 && (s.minor === 0 || s.minor === 1))) {
    throw new EntryProblem('unsupported', `stores ${quoteName(path)} in GNU sparse format ${s.major}.${s.minor}, which is not supported`);
  }
  if (s.map01 === undefined) return s.map;
  if (s.map01 === '') return [];
  return s.map01.split(',').map((v) => {
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new EntryProblem('corrupt', `invalid sparse map of ${quoteName(path)}`);
    return Number(v);
  });
}

export function checkSparseMap(path: string, size: number, m: readonly number[], stored: number): void {
  if (m.length % 2 !== 0) throw new EntryProblem('corrupt', `the sparse map of ${quoteName(path)} has an odd number of values`);
  if (m.length > 2 * MAX_SPARSE_SEGMENTS) throw tooManySegments(path);
  let end = 0;
  let sum = 0;
  for (let i = 0; i < m.length; i += 2) {
    const off = m[i]!;
    const len = m[i + 1]!;
    if (off < end || off + len > size) throw new EntryProblem('corrupt', `the sparse map of ${quoteName(path)} has overlapping or out-of-range segments`);
    end = off + len;
    sum += len;
  }
  if (sum !== stored) throw new EntryProblem('corrupt', `the sparse map of ${quoteName(path)} describes ${sum} bytes, the archive stores ${stored}`);
}

/**
 * pax sparse 1.0: decimal numbers, one per line (the count, then offset and length pairs), at the
 * start of the content, padded to whole blocks. Fed block by block; `complete` returns the map once
 * the block holding its last line has been read (then exactly the map's blocks were read).
 */
export class Sparse10Map {
  private parts: Buffer[] = [];
  private lines = 0;
  bytes = 0;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {}

  /** A piece of the map's blocks; `atBlockEnd` when it completes a block (or the content ended). */
  add(piece: Buffer, atBlockEnd: boolean, contentEnded: boolean): number[] | undefined {
    this.parts.push(Buffer.from(piece)); // a copy: chunks are reused
    this.bytes += piece.length;
    for (const c of piece) if (c === 0x0a) this.lines++;
    if (this.bytes > this.maxBytes) {
      throw new EntryProblem('unsupported', `has a sparse map of more than ${this.maxBytes} bytes for ${quoteName(this.path)}`);
    }
    if (!atBlockEnd && !contentEnded) return undefined;
    const text = Buffer.concat(this.parts).toString('latin1');
    this.parts = [Buffer.from(text, 'latin1')];
    const first = text.slice(0, text.indexOf('\n'));
    const invalid = () => new EntryProblem('corrupt', `invalid sparse map of ${quoteName(this.path)}`);
    const cutOff = () => new EntryProblem('corrupt', `the sparse map of ${quoteName(this.path)} is cut off`);
    if (this.lines === 0 || !/^[0-9]+$/.test(first)) {
      if (this.lines > 0 || contentEnded) throw invalid();
      return undefined;
    }
    const count = Number(first);
    if (count > MAX_SPARSE_SEGMENTS) throw tooManySegments(this.path);
    if (this.lines < 1 + 2 * count) {
      if (contentEnded) throw cutOff();
      return undefined;
    }
    if (!atBlockEnd) throw cutOff();
    this.parts = [];
    return text.split('\n').slice(1, 1 + 2 * count).map((l) => {
      if (!/^[0-9]+$/.test(l) || !Number.isSafeInteger(Number(l))) throw invalid();
      return Number(l);
    });
  }
}

/** Where each stored byte of a file's content goes: split at segment borders for sparse files. */
export class ContentCursor {
  private seg = 0;
  private segLeft: number;
  private offset: number;

  constructor(
    private readonly map: readonly number[] | undefined,
    stored: number,
  ) {
    this.segLeft = map ? (map[1] ?? 0) : stored;
    this.offset = map ? (map[0] ?? 0) : 0;
  }

  /** Calls `out` with pieces of `piece` and their offsets in the file. */
  split(piece: Buffer, out: (part: Buffer, fileOffset: number) => void): void {
    if (!this.map) {
      out(piece, this.offset);
      this.offset += piece.length;
      return;
    }
    let p = 0;
    while (p < piece.length) {
      while (this.segLeft === 0) {
        this.seg += 2;
        this.offset = this.map[this.seg]!;
        this.segLeft = this.map[this.seg + 1]!;
      }
      const n = Math.min(this.segLeft, piece.length - p);
      out(piece.subarray(p, p + n), this.offset);
      this.offset += n;
      this.segLeft -= n;
      p += n;
    }
  }
}

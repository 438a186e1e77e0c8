/**
 * A synchronous, streaming tar reader that follows the format the way GNU tar 1.34 reads it:
 * feed it decoded bytes, it calls back per entry and per piece of content.
 *
 * - Names and link targets are bytes (binary strings, one char per byte), never decoded as text.
 * - pax records are cut by their length prefix (pax.ts), so a value may hold newlines.
 * - Several extended headers in a row replace each other (GNU tar and Go apply only the last);
 *   a pax global header replaces the previous global one and applies to every later entry, below
 *   the entry's own extended header. GNU long names ('L') and link targets ('K') likewise.
 * - Numbers in octal or base-256 (negative mtimes, owners beyond 2097151, sizes of 8 GiB and more).
 * - Which entry types carry content follows GNU tar, not the header's size field alone: hard links,
 *   directories and devices never do (an old hard link with a size is read as having none),
 *   symlinks, FIFOs, GNU dumpdirs and volume labels skip their content.
 * - Sparse files in every GNU format: old GNU ('S' with extension blocks) and pax 0.0, 0.1 and 1.0.
 *   Content is handed on with its offset in the expanded file, so the writer can leave holes.
 *
 * Every problem is thrown as an ArchiveError (from `write`, `end`, or out of the consumer's own
 * callbacks, which are not caught here): the caller stops at the first one.
 */
import type { EntryType } from '../entry-record.js';
import { ArchiveError } from '../archive-errors.js';
import { quoteName } from '../../core/show-name.js';
import { BLOCK, decodeHeader, decodeSparseExtension, HeaderError, isZeroBlock, type RawHeader } from './header.js';
import { PaxError, paxInteger, parsePax, paxTime, type PaxRecord } from './pax.js';

/** Extended headers (pax, GNU long names, pax 1.0 sparse maps) larger than this are refused. */
export const MAX_META_BYTES = 1024 * 1024;
/** Sparse maps with more segments than this are refused (memory stays bounded). */
const MAX_SPARSE_SEGMENTS = 1 << 20;

/** One real entry, with every override applied. */
export interface TarEntry {
  /** Binary string as stored (not normalised): the consumer decides what is safe. */
  path: string;
  type: EntryType;
  /** The header's type flag ('0', '5', 'S', …), for messages. */
  typeflag: string;
  /** Binary string: symlink target, or the archive path a hard link points to. */
  linkpath: string | undefined;
  /** Permission bits (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size of the file's content as restored (a sparse file's full size); 0 for all but regular files. */
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Sparse files: [offset, length, offset, length, …] of the stored data within the file. */
  sparse: number[] | undefined;
}

export interface TarReaderHandler {
  /** A header. Content (size > 0) follows through `data`, then `end`; without content only `end`. */
  entry(e: TarEntry): void;
  /** A piece of the current file's content and where it goes in the file. */
  data(piece: Buffer, fileOffset: number): void;
  end(): void;
}

type State = 'header' | 'body' | 'meta' | 'skip' | 'sparse-ext' | 'sparse-map';

const META_TYPES = new Set(['x', 'g', 'X', 'L', 'K']);

interface Overrides {
  /** GNU long name / link ('L' / 'K'). */
  longName?: string;
  longLink?: string;
  /** The last extended header's records ('x'). */
  pax?: PaxRecord[];
}

export class TarReader {
  /** Bytes fed so far. */
  bytes = 0;
  /** Two zero blocks seen: the archive ended; what follows is record padding. */
  sawEof = false;
  /** Path of the last entry header (binary string, for messages). */
  lastEntry = '';

  private state: State = 'header';
  /** Bytes of the current section still expected, and the block padding after it. */
  private remain = 0;
  private pad = 0;
  private readonly held = Buffer.alloc(BLOCK);
  private heldBytes = 0;
  private sawNullBlock = false;
  private sawHeader = false;
  private next: Overrides = {};
  private global: PaxRecord[] = [];
  private metaType = '';
  private metaParts: Buffer[] = [];
  private metaBytes = 0;
  /** pax sparse 1.0: newlines read so far in the map. */
  private mapLines = 0;
  /** The entry whose content is being read, and (sparse) where the next stored byte goes. */
  private current: TarEntry | undefined;
  private dataWanted = false;
  private seg = 0;
  private segLeft = 0;
  private fileOffset = 0;
  /** Old GNU sparse: the header waiting for its extension blocks. */
  private pendingSparse: { entry: TarEntry; raw: RawHeader } | undefined;

  constructor(
    private readonly archiveName: string,
    private readonly handler: TarReaderHandler,
  ) {}

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length && !this.sawEof) {
      if (this.state === 'header' || this.state === 'sparse-ext') {
        if (this.heldBytes === 0 && chunk.length - off >= BLOCK) {
          this.block(chunk, off);
          off += BLOCK;
        } else {
          const n = Math.min(BLOCK - this.heldBytes, chunk.length - off);
          chunk.copy(this.held, this.heldBytes, off, off + n);
          this.heldBytes += n;
          off += n;
          if (this.heldBytes === BLOCK) {
            this.heldBytes = 0;
            this.block(this.held, 0);
          }
        }
        continue;
      }
      if (this.state === 'sparse-map') {
        const n = Math.min(this.remain, chunk.length - off, BLOCK - (this.metaBytes % BLOCK));
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.remain -= n;
        this.sparseMapBlock(piece);
        continue;
      }
      if (this.remain > 0) {
        const n = Math.min(this.remain, chunk.length - off);
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.remain -= n;
        if (this.state === 'body') {
          if (this.dataWanted) this.content(piece);
        } else if (this.state === 'meta') {
          this.metaParts.push(Buffer.from(piece)); // a copy: chunks are reused
        }
        if (this.remain > 0) continue;
        this.finishSection();
        continue;
      }
      const n = Math.min(this.pad, chunk.length - off);
      off += n;
      this.pad -= n;
      if (this.pad === 0) this.state = 'header';
    }
  }

  /** The end of the stream: an entry whose content is cut off, or a partial block, is truncation. */
  end(): void {
    if (this.sawEof) return;
    if (this.state !== 'header' && (this.remain > 0 || this.state === 'sparse-ext')) {
      throw new ArchiveError('truncated', `archive is truncated: ${this.archiveName} ends inside entry ${quoteName(this.lastEntry)}`);
    }
    if (this.heldBytes > 0 || this.pad > 0) {
      // A missing end-of-archive marker alone is accepted (GNU tar does); a partial block is not.
      throw new ArchiveError(
        'truncated',
        `archive is truncated: the tar data of ${this.archiveName} ends in the middle of a block` +
          (this.lastEntry ? ` after entry ${quoteName(this.lastEntry)}` : ''),
      );
    }
    if (!this.sawHeader && this.bytes > 0) {
      throw new ArchiveError('corrupt', `archive is corrupt: ${this.archiveName} does not contain a tar archive`);
    }
    if (this.next.longName !== undefined || this.next.longLink !== undefined || this.next.pax) {
      throw new ArchiveError('truncated', `archive is truncated: ${this.archiveName} ends after an extended header, before its entry`);
    }
  }

  private block(buf: Buffer, off: number): void {
    if (this.state === 'sparse-ext') {
      this.sparseExtension(buf, off);
      return;
    }
    if (isZeroBlock(buf, off)) {
      if (this.sawNullBlock) this.sawEof = true;
      this.sawNullBlock = true;
      return;
    }
    this.sawNullBlock = false;
    let h: RawHeader;
    try {
      h = decodeHeader(buf, off);
    } catch (err) {
      if (!this.sawHeader) throw new ArchiveError('corrupt', `archive is corrupt: ${this.archiveName} does not contain a tar archive`);
      throw this.corrupt((err as HeaderError).message);
    }
    this.sawHeader = true;
    if (META_TYPES.has(h.typeflag)) {
      if (h.size > MAX_META_BYTES) {
        throw new ArchiveError('unsupported', `archive ${this.archiveName} has an extended header of ${h.size} bytes (more than ${MAX_META_BYTES})${this.after()}`);
      }
      this.metaType = h.typeflag;
      this.startMeta(h.size);
      return;
    }
    this.entryHeader(h);
  }

  private startMeta(size: number): void {
    this.metaParts = [];
    this.metaBytes = 0;
    this.state = 'meta';
    this.remain = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.finishSection();
  }

  private entryHeader(h: RawHeader): void {
    const o = this.next;
    this.next = {};
    let path = o.longName ?? h.name;
    let linkpath: string | undefined = o.longLink ?? h.linkname;
    let size = h.size;
    let { uid, gid } = h;
    let mtimeSec = h.mtime;
    let mtimeNsec = 0;
    let sparseName: string | undefined;
    const sparse = { major: -1, minor: -1, realSize: -1, map: [] as number[], map01: undefined as string | undefined, any: false };
    const apply = (r: PaxRecord) => {
      switch (r.key) {
        case 'path': path = r.value; return;
        case 'linkpath': linkpath = r.value; return;
        case 'size': size = paxInteger(r); return;
        case 'uid': uid = paxInteger(r); return;
        case 'gid': gid = paxInteger(r); return;
        case 'mtime': ({ sec: mtimeSec, nsec: mtimeNsec } = paxTime(r)); return;
        case 'GNU.sparse.name': sparseName = r.value; sparse.any = true; return;
        case 'GNU.sparse.size':
        case 'GNU.sparse.realsize': sparse.realSize = paxInteger(r); sparse.any = true; return;
        case 'GNU.sparse.major': sparse.major = paxInteger(r); sparse.any = true; return;
        case 'GNU.sparse.minor': sparse.minor = paxInteger(r); sparse.any = true; return;
        case 'GNU.sparse.offset':
        case 'GNU.sparse.numbytes': sparse.map.push(paxInteger(r)); sparse.any = true; return;
        case 'GNU.sparse.map': sparse.map01 = r.value; sparse.any = true; return;
        default: return; // atime, ctime, uname, gname, charsets, comments, xattrs: not restored
      }
    };
    try {
      for (const r of this.global) apply(r);
      for (const r of o.pax ?? []) apply(r);
    } catch (err) {
      if (err instanceof PaxError) throw this.corrupt(err.message);
      throw err;
    }
    // GNU tar: the sparse name wins over a pax path, whatever their order.
    if (sparseName !== undefined) path = sparseName;
    if (!path) throw this.corrupt('tar entry without a path');

    const t = h.typeflag;
    let type: EntryType;
    let hasContent = true;
    switch (t) {
      case '0': case '\0': case '7':
        // Before directories had a type, a trailing slash made one (GNU tar still reads it so).
        type = t !== '7' && path.endsWith('/') ? 'dir' : 'file';
        hasContent = type === 'file';
        break;
      case 'S': type = 'file'; break;
      case '1': type = 'hardlink'; hasContent = false; break;
      case '2': type = 'symlink'; break;
      case '3': type = 'char'; hasContent = false; break;
      case '4': type = 'block'; hasContent = false; break;
      case '5': type = 'dir'; hasContent = false; break;
      case '6': type = 'fifo'; break;
      case 'D': type = 'dir'; break; // GNU dumpdir: a directory whose content lists its names
      case 'V': // a volume label, not a file: its content is skipped
        this.lastEntry = path;
        this.skipContent(size);
        return;
      default:
        throw new ArchiveError('unsupported', `archive ${this.archiveName} contains entry ${quoteName(path)} of unsupported type ${JSON.stringify(t)}`);
    }
    if (type !== 'symlink' && type !== 'hardlink') linkpath = undefined;
    else if (!linkpath) throw this.corrupt(`link ${quoteName(path)} without a target`);

    const entry: TarEntry = {
      path, type, typeflag: t, linkpath,
      mode: h.mode & 0o7777, uid, gid,
      size: type === 'file' ? size : 0,
      mtimeSec, mtimeNsec,
      sparse: undefined,
    };
    this.lastEntry = path;

    if (t === 'S' && h.sparse) {
      entry.size = h.sparse.realSize;
      entry.sparse = [...h.sparse.map];
      if (h.sparse.extended) {
        this.pendingSparse = { entry, raw: h };
        this.state = 'sparse-ext';
        return;
      }
      this.startFile(entry, size);
      return;
    }
    if (sparse.any && type === 'file') {
      if (sparse.realSize < 0) throw this.corrupt(`sparse file ${quoteName(path)} without its real size`);
      entry.size = sparse.realSize;
      if (sparse.major === 1 && sparse.minor === 0) {
        // pax sparse 1.0: the map is in the first blocks of the content.
        if (size === 0) throw this.corrupt(`sparse file ${quoteName(path)} has no map`);
        this.current = entry;
        this.metaParts = [];
        this.metaBytes = 0;
        this.mapLines = 0;
        this.state = 'sparse-map';
        this.remain = size;
        this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
        return;
      }
      if (sparse.major !== -1 && !(sparse.major === 0 && (sparse.minor === 0 || sparse.minor === 1))) {
        throw new ArchiveError('unsupported', `archive ${this.archiveName} stores ${quoteName(path)} in GNU sparse format ${sparse.major}.${sparse.minor}, which is not supported`);
      }
      entry.sparse = sparse.map01 !== undefined ? parseNumberList(sparse.map01, ',', () => this.corrupt(`invalid sparse map of ${quoteName(path)}`)) : sparse.map;
      this.startFile(entry, size);
      return;
    }
    if (!hasContent) {
      // GNU tar reads no content for these, whatever the size field says.
      this.handler.entry(entry);
      this.handler.end();
      return;
    }
    if (type !== 'file') {
      this.handler.entry(entry);
      this.handler.end();
      this.skipContent(size);
      return;
    }
    this.startFile(entry, size);
  }

  /** A regular or sparse file whose `stored` content bytes follow (`setPadding`: not already set by a 1.0 map). */
  private startFile(entry: TarEntry, stored: number, setPadding = true): void {
    if (entry.sparse) this.checkSparseMap(entry, stored);
    this.current = entry;
    this.dataWanted = true;
    this.seg = 0;
    this.segLeft = entry.sparse ? (entry.sparse[1] ?? 0) : stored;
    this.fileOffset = entry.sparse ? (entry.sparse[0] ?? 0) : 0;
    this.handler.entry(entry);
    this.state = 'body';
    this.remain = stored;
    if (setPadding) this.pad = (BLOCK - (stored % BLOCK)) % BLOCK;
    if (stored === 0) this.finishSection();
  }

  private skipContent(size: number): void {
    this.dataWanted = false;
    this.current = undefined;
    this.state = 'body';
    this.remain = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.state = 'header';
  }

  /** Hand a piece of stored content on, split at sparse segment borders. */
  private content(piece: Buffer): void {
    const e = this.current!;
    if (!e.sparse) {
      this.handler.data(piece, this.fileOffset);
      this.fileOffset += piece.length;
      return;
    }
    let p = 0;
    while (p < piece.length) {
      while (this.segLeft === 0) {
        this.seg += 2;
        this.fileOffset = e.sparse[this.seg]!;
        this.segLeft = e.sparse[this.seg + 1]!;
      }
      const n = Math.min(this.segLeft, piece.length - p);
      this.handler.data(piece.subarray(p, p + n), this.fileOffset);
      this.fileOffset += n;
      this.segLeft -= n;
      p += n;
    }
  }

  /** The content of the current entry (or meta header) is complete. */
  private finishSection(): void {
    if (this.state === 'meta') {
      const body = Buffer.concat(this.metaParts);
      this.metaParts = [];
      this.applyMeta(body);
    } else if (this.dataWanted) {
      this.dataWanted = false;
      this.current = undefined;
      this.handler.end();
    }
    this.state = this.pad > 0 ? 'skip' : 'header';
  }

  private applyMeta(body: Buffer): void {
    try {
      switch (this.metaType) {
        case 'x':
        case 'X':
          this.next.pax = parsePax(body);
          return;
        case 'g':
          this.global = parsePax(body);
          return;
        case 'L':
          this.next.longName = cutAtNul(body);
          return;
        case 'K':
          this.next.longLink = cutAtNul(body);
          return;
      }
    } catch (err) {
      if (err instanceof PaxError) throw this.corrupt(err.message);
      throw err;
    }
  }

  /** Old GNU sparse: one extension block of map entries. */
  private sparseExtension(buf: Buffer, off: number): void {
    const p = this.pendingSparse!;
    const ext = decodeSparseExtension(buf, off);
    p.entry.sparse!.push(...ext.map);
    if (p.entry.sparse!.length > 2 * MAX_SPARSE_SEGMENTS) throw this.tooManySegments(p.entry.path);
    if (ext.extended) return;
    this.pendingSparse = undefined;
    this.startFile(p.entry, p.raw.size);
  }

  /**
   * pax sparse 1.0: the map is decimal numbers, one per line (the count, then offset and length
   * pairs), at the start of the content and padded to whole blocks. It is read block by block
   * (write() hands this state no more than the rest of a block), so when it is complete, exactly
   * its blocks have been read and the next byte is data.
   */
  private sparseMapBlock(piece: Buffer): void {
    const e = this.current!;
    this.metaParts.push(Buffer.from(piece)); // a copy: chunks are reused
    this.metaBytes += piece.length;
    for (const c of piece) if (c === 0x0a) this.mapLines++;
    if (this.metaBytes > MAX_META_BYTES) {
      throw new ArchiveError('unsupported', `archive ${this.archiveName} has a sparse map of more than ${MAX_META_BYTES} bytes for ${quoteName(e.path)}`);
    }
    if (this.metaBytes % BLOCK !== 0 && this.remain > 0) return;
    const text = Buffer.concat(this.metaParts).toString('latin1');
    this.metaParts = [Buffer.from(text, 'latin1')];
    const first = text.slice(0, text.indexOf('\n'));
    if (this.mapLines === 0 || !/^[0-9]+$/.test(first)) {
      if (this.mapLines > 0 || this.remain === 0) throw this.corrupt(`invalid sparse map of ${quoteName(e.path)}`);
      return;
    }
    const count = Number(first);
    if (count > MAX_SPARSE_SEGMENTS) throw this.tooManySegments(e.path);
    if (this.mapLines < 1 + 2 * count) {
      if (this.remain === 0) throw this.corrupt(`the sparse map of ${quoteName(e.path)} is cut off`);
      return;
    }
    const lines = text.split('\n').slice(1, 1 + 2 * count);
    e.sparse = lines.map((l) => {
      if (!/^[0-9]+$/.test(l) || !Number.isSafeInteger(Number(l))) throw this.corrupt(`invalid sparse map of ${quoteName(e.path)}`);
      return Number(l);
    });
    this.metaParts = [];
    if (this.metaBytes % BLOCK !== 0) throw this.corrupt(`the sparse map of ${quoteName(e.path)} is cut off`);
    const stored = this.remain;
    this.current = undefined;
    this.startFile(e, stored, false);
  }

  private checkSparseMap(e: TarEntry, stored: number): void {
    const m = e.sparse!;
    if (m.length % 2 !== 0) throw this.corrupt(`the sparse map of ${quoteName(e.path)} has an odd number of values`);
    if (m.length > 2 * MAX_SPARSE_SEGMENTS) throw this.tooManySegments(e.path);
    let end = 0;
    let sum = 0;
    for (let i = 0; i < m.length; i += 2) {
      const off = m[i]!;
      const len = m[i + 1]!;
      if (off < end || off + len > e.size) throw this.corrupt(`the sparse map of ${quoteName(e.path)} has overlapping or out-of-range segments`);
      end = off + len;
      sum += len;
    }
    if (sum !== stored) throw this.corrupt(`the sparse map of ${quoteName(e.path)} describes ${sum} bytes, the archive stores ${stored}`);
  }

  private tooManySegments(path: string): ArchiveError {
    return new ArchiveError('unsupported', `archive ${this.archiveName} stores ${quoteName(path)} as a sparse file of more than ${MAX_SPARSE_SEGMENTS} segments`);
  }

  private after(): string {
    return this.lastEntry ? ` after entry ${quoteName(this.lastEntry)}` : '';
  }

  private corrupt(what: string): ArchiveError {
    return new ArchiveError('corrupt', `archive is corrupt: ${what} in ${this.archiveName}${this.after()}`);
  }
}

/** GNU long names end at their first NUL, like every C string GNU tar reads them into. */
function cutAtNul(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString('latin1', 0, nul === -1 ? body.length : nul);
}

function parseNumberList(text: string, sep: string, bad: () => Error): number[] {
  if (text === '') return [];
  return text.split(sep).map((v) => {
    if (!/^[0-9]+$/.test(v)) throw bad();
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw bad();
    return n;
  });
}

/**
 * A synchronous, streaming tar reader that follows the format the way GNU tar 1.34 reads it: feed
 * it decoded bytes, it calls back per entry and per piece of content. Names and link targets stay
 * bytes (binary strings), pax records are cut by their length (pax.ts), numbers may be base-256
 * (header.ts), a header and its extended headers resolve into an entry as in GNU tar, content
 * included or not (tar-entry.ts), and sparse files of every GNU format come with their offsets
 * (sparse.ts), so the writer can leave holes. This module only walks the 512-byte blocks.
 *
 * Every problem is thrown as an ArchiveError (from `write`, `end`, or out of the consumer's own
 * callbacks, which are not caught here): the caller stops at the first one.
 */
import { quoteName } from '../../core/show-name.js';
import { ArchiveError } from '../archive-errors.js';
import { EntryProblem } from './entry-problem.js';
import { BLOCK, decodeHeader, decodeSparseExtension, HeaderError, isZeroBlock, type RawHeader } from './header.js';
import { PaxError, type PaxRecord } from './pax.js';
import { checkSparseMap, ContentCursor, MAX_SPARSE_SEGMENTS, paxSparseMap, Sparse10Map, tooManySegments } from './sparse.js';
import { collectOverride, resolveEntry, type Overrides, type TarEntry } from './tar-entry.js';

export type { TarEntry };

/** Extended headers (pax, GNU long names, pax 1.0 sparse maps) larger than this are refused. */
export const MAX_META_BYTES = 1024 * 1024;

export interface TarReaderHandler {
  /** A header. Content (size > 0) follows through `data`, then `end`; without content only `end`. */
  entry(e: TarEntry): void;
  /** A piece of the current file's content and where it goes in the file. */
  data(piece: Buffer, fileOffset: number): void;
  end(): void;
}

type State = 'header' | 'body' | 'meta' | 'skip' | 'sparse-ext' | 'sparse-map';

const META_TYPES = new Set(['x', 'g', 'X', 'L', 'K']);

export class TarReader {
  /** Bytes fed so far; a zero block seen (the archive ended, what follows is ignored); the last entry's path. */
  bytes = 0;
  sawEof = false;
  lastEntry = '';

  private state: State = 'header';
  /** Bytes of the current section still expected, and the block padding after it. */
  private remain = 0;
  private pad = 0;
  private readonly held = Buffer.alloc(BLOCK);
  private heldBytes = 0;
  private sawHeader = false;
  private next: Overrides = {};
  private global: PaxRecord[] = [];
  private metaType = '';
  private metaParts: Buffer[] = [];
  /** The file whose content is being read (undefined while content is skipped), and where it goes. */
  private current: { entry: TarEntry; cursor: ContentCursor } | undefined;
  /** Old GNU sparse: the header waiting for its extension blocks. */
  private pendingSparse: { entry: TarEntry; stored: number } | undefined;
  /** pax sparse 1.0: the entry whose map is being read from its content. */
  private pendingMap: { entry: TarEntry; map: Sparse10Map } | undefined;

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
        // No more than the rest of a block: the map ends with a block.
        const p = this.pendingMap!;
        const n = Math.min(this.remain, chunk.length - off, BLOCK - (p.map.bytes % BLOCK));
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.remain -= n;
        this.sparseMapPiece(piece);
        continue;
      }
      if (this.remain > 0) {
        const n = Math.min(this.remain, chunk.length - off);
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.remain -= n;
        if (this.state === 'body') this.current?.cursor.split(piece, (part, at) => this.handler.data(part, at));
        else if (this.state === 'meta') this.metaParts.push(Buffer.from(piece)); // a copy: chunks are reused
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
      throw new ArchiveError('truncated', `archive is truncated: the tar data of ${this.archiveName} ends in the middle of a block${this.after()}`);
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
      this.guard(() => this.sparseExtension(buf, off));
      return;
    }
    if (isZeroBlock(buf, off)) {
      // The end, as for GNU tar: its reader stops at the first zero block, whatever follows (the
      // second zero block, record padding, or a lone zero block before more data, which GNU tar
      // only warns about: "A lone zero block"). Reading on would list and restore entries that GNU
      // tar does not, or fail on padding it ignores.
      this.sawEof = true;
      return;
    }
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
      this.metaParts = [];
      this.section('meta', h.size);
      return;
    }
    this.guard(() => this.entryHeader(h));
  }

  /** The next `size` bytes (padded to a block) belong to `state`. */
  private section(state: State, size: number): void {
    this.state = state;
    this.remain = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.finishSection();
  }

  private entryHeader(h: RawHeader): void {
    const o = this.next;
    this.next = {};
    const r = resolveEntry(h, o, this.global);
    this.lastEntry = r.kind === 'label' ? r.path : r.entry.path;
    if (r.kind === 'label') {
      this.current = undefined;
      this.section('body', r.stored);
      return;
    }
    const { entry, stored } = r;
    if (h.typeflag === 'S' && h.sparse) {
      entry.size = h.sparse.realSize;
      entry.sparse = [...h.sparse.map];
      if (h.sparse.extended) {
        this.pendingSparse = { entry, stored };
        this.state = 'sparse-ext';
        return;
      }
      this.startFile(entry, stored);
      return;
    }
    if (r.paxSparse) {
      if (r.paxSparse.realSize < 0) throw new EntryProblem('corrupt', `sparse file ${quoteName(entry.path)} without its real size`);
      entry.size = r.paxSparse.realSize;
      if (r.paxSparse.major === 1 && r.paxSparse.minor === 0) {
        if (stored === 0) throw new EntryProblem('corrupt', `sparse file ${quoteName(entry.path)} has no map`);
        this.pendingMap = { entry, map: new Sparse10Map(entry.path, MAX_META_BYTES) };
        this.state = 'sparse-map';
        this.remain = stored;
        this.pad = (BLOCK - (stored % BLOCK)) % BLOCK;
        return;
      }
      entry.sparse = paxSparseMap(entry.path, r.paxSparse);
      this.startFile(entry, stored);
      return;
    }
    if (r.content === 'file') {
      this.startFile(entry, stored);
      return;
    }
    // No content of its own: GNU tar reads none for some types and skips what others store.
    this.handler.entry(entry);
    this.handler.end();
    this.current = undefined;
    if (r.content === 'skip') this.section('body', stored);
  }

  /** A regular or sparse file whose `stored` content bytes follow (`padSet`: a 1.0 map set the padding). */
  private startFile(entry: TarEntry, stored: number, padSet = false): void {
    if (entry.sparse) checkSparseMap(entry.path, entry.size, entry.sparse, stored);
    this.current = { entry, cursor: new ContentCursor(entry.sparse, stored) };
    this.handler.entry(entry);
    if (padSet) {
      this.state = 'body';
      this.remain = stored;
      if (stored === 0) this.finishSection();
    } else {
      this.section('body', stored);
    }
  }

  /** The content of the current entry (or meta header) is complete. */
  private finishSection(): void {
    if (this.state === 'meta') {
      const body = Buffer.concat(this.metaParts);
      this.metaParts = [];
      this.applyMeta(body);
    } else if (this.current) {
      this.current = undefined;
      this.handler.end();
    }
    this.state = this.pad > 0 ? 'skip' : 'header';
  }

  private applyMeta(body: Buffer): void {
    try {
      const global = collectOverride(this.metaType, body, this.next);
      if (global) this.global = global;
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
    if (p.entry.sparse!.length > 2 * MAX_SPARSE_SEGMENTS) throw tooManySegments(p.entry.path);
    if (ext.extended) return;
    this.pendingSparse = undefined;
    this.state = 'header';
    this.startFile(p.entry, p.stored);
  }

  /** pax sparse 1.0: a piece of the map at the start of the content. */
  private sparseMapPiece(piece: Buffer): void {
    const p = this.pendingMap!;
    const map = this.guard(() => p.map.add(piece, (p.map.bytes + piece.length) % BLOCK === 0, this.remain === 0));
    if (!map) return;
    this.pendingMap = undefined;
    p.entry.sparse = map;
    this.guard(() => this.startFile(p.entry, this.remain, true));
  }

  /** Runs `f`; an EntryProblem becomes an ArchiveError naming the archive and the entry. */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof EntryProblem)) throw err;
      if (err.kind === 'corrupt') throw this.corrupt(err.message);
      throw new ArchiveError('unsupported', `archive ${this.archiveName} ${err.message}`);
    }
  }

  private after(): string {
    return this.lastEntry ? ` after entry ${quoteName(this.lastEntry)}` : '';
  }

  private corrupt(what: string): ArchiveError {
    return new ArchiveError('corrupt', `archive is corrupt: ${what} in ${this.archiveName}${this.after()}`);
  }
}

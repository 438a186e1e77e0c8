/**
 * A synchronous tar stream reader: feed it decoded bytes, it calls back per entry header and per
 * piece of file content. node-tar decodes every header (`Header`: ustar fields, base-256 numbers,
 * checksum, pending pax / GNU long-name overrides) and every pax body (`Pax.parse`); this module only
 * walks the 512-byte blocks.
 *
 * Why not node-tar's `Parser`: it wraps every entry in a stream object with its own buffering and
 * events, which is most of the time a restore of 20,000 small documents spends outside system calls
 * (issue #6). Here a file's content reaches the consumer as slices of the chunk it arrived in, and
 * nothing is buffered but a header split across two chunks and the (size-limited) extended headers.
 *
 * Every problem is thrown as an ArchiveError (from `write`, `end`, or out of the consumer's own
 * callbacks, which are not caught here): the caller stops at the first one.
 */
import { Header, Pax, type HeaderData } from 'tar';
import { ArchiveError } from './archive-errors.js';

const BLOCK = 512;

/** Extended headers (pax, GNU long names) larger than this are refused, like node-tar's default. */
const MAX_META_BYTES = 1024 * 1024;

/** The header of one real entry, with pax / GNU long-name overrides applied. */
export interface TarEntry {
  /** As stored (not normalised): the consumer decides what is safe. */
  path: string;
  /** node-tar's type name: 'File', 'Directory', 'SymbolicLink', 'Link', 'SparseFile', ... */
  type: string;
  /** Permission bits (& 0o7777). */
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  /** Content bytes that follow the header. */
  size: number;
  mtime: Date | undefined;
  atime: Date | undefined;
  linkpath: string | undefined;
}

export interface TarReaderHandler {
  /** A header. Content (size > 0) follows through `data`, then `end`; without content only `end`. */
  entry(e: TarEntry): void;
  data(piece: Buffer): void;
  end(): void;
  /** The body of a pax header or of a GNU long name/link entry, before it is applied. */
  meta?(text: string): void;
}

type State = 'header' | 'body' | 'meta' | 'skip';

const META_TYPES = new Set([
  'ExtendedHeader',
  'OldExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'OldGnuLongPath',
  'NextFileHasLongLinkpath',
]);

export class TarReader {
  /** Bytes fed so far. */
  bytes = 0;
  /** Two zero blocks seen: the archive ended; what follows is record padding. */
  sawEof = false;
  /** Path of the last entry header (for messages). */
  lastEntry = '';

  private state: State = 'header';
  /** Bytes of content (or meta, or skipped data) still expected, and the block padding after it. */
  private remain = 0;
  private pad = 0;
  private readonly held = Buffer.alloc(BLOCK);
  private heldBytes = 0;
  private sawNullBlock = false;
  private sawHeader = false;
  /** Pending overrides for the next entry (pax 'x', GNU 'L'/'K') and global ones (pax 'g'). */
  private ex: HeaderData | undefined;
  private gex: HeaderData | undefined;
  private metaType = '';
  private metaParts: Buffer[] = [];

  constructor(
    private readonly archiveName: string,
    private readonly handler: TarReaderHandler,
  ) {}

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length && !this.sawEof) {
      if (this.state === 'header') {
        if (this.heldBytes === 0 && chunk.length - off >= BLOCK) {
          this.header(chunk, off);
          off += BLOCK;
        } else {
          const n = Math.min(BLOCK - this.heldBytes, chunk.length - off);
          chunk.copy(this.held, this.heldBytes, off, off + n);
          this.heldBytes += n;
          off += n;
          if (this.heldBytes === BLOCK) {
            this.heldBytes = 0;
            this.header(this.held, 0);
          }
        }
        continue;
      }
      if (this.remain > 0) {
        const n = Math.min(this.remain, chunk.length - off);
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.remain -= n;
        if (this.state === 'body') this.handler.data(piece);
        else if (this.state === 'meta') this.metaParts.push(Buffer.from(piece)); // a copy: chunks are reused
        if (this.remain > 0) continue;
        this.finishContent();
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
    if (this.state !== 'header' && this.remain > 0) {
      throw new ArchiveError(
        'truncated',
        `archive is truncated: ${this.archiveName} ends inside entry ${JSON.stringify(this.lastEntry)}`,
      );
    }
    if (this.heldBytes > 0 || this.pad > 0) {
      // A missing end-of-archive marker alone is accepted (GNU tar does); a partial block is not.
      throw new ArchiveError(
        'truncated',
        `archive is truncated: the tar data of ${this.archiveName} ends in the middle of a block` +
          (this.lastEntry ? ` after entry ${JSON.stringify(this.lastEntry)}` : ''),
      );
    }
    if (!this.sawHeader && this.bytes > 0) {
      throw new ArchiveError('corrupt', `archive is corrupt: ${this.archiveName} does not contain a tar archive`);
    }
  }

  private header(buf: Buffer, off: number): void {
    let h: Header;
    try {
      h = new Header(buf, off, this.ex, this.gex);
    } catch (err) {
      throw this.corrupt(`invalid tar header (${(err as Error).message})`);
    }
    if (h.nullBlock) {
      if (this.sawNullBlock) this.sawEof = true;
      this.sawNullBlock = true;
      return;
    }
    this.sawNullBlock = false;
    if (!h.cksumValid) {
      if (!this.sawHeader) throw new ArchiveError('corrupt', `archive is corrupt: ${this.archiveName} does not contain a tar archive`);
      throw this.corrupt('tar header checksum error');
    }
    this.sawHeader = true;
    const type = h.type;
    const isMeta = META_TYPES.has(type);
    // Header applies most pending overrides itself, but decodes path (with the ustar prefix) and
    // linkpath from the block afterwards: a pending long name or pax path/linkpath wins here.
    const entryPath = (isMeta ? undefined : this.ex?.path) ?? h.path;
    const linkpath = (isMeta ? undefined : this.ex?.linkpath) ?? h.linkpath;
    if (!entryPath) throw this.corrupt('tar entry without a path');
    const isLink = type === 'Link' || type === 'SymbolicLink';
    if (isLink && !linkpath) throw this.corrupt(`link ${JSON.stringify(entryPath)} without a target`);
    if (!isLink && !isMeta && linkpath) throw this.corrupt(`entry ${JSON.stringify(entryPath)} of type ${type} has a link target`);
    const size = h.size ?? 0;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.remain = size;

    if (isMeta) {
      if (size > MAX_META_BYTES) {
        throw new ArchiveError('unsupported', `archive ${this.archiveName} has an extended header of ${size} bytes (more than ${MAX_META_BYTES}) before entry ${JSON.stringify(this.lastEntry)}`);
      }
      this.metaType = type;
      this.metaParts = [];
      this.state = 'meta';
      if (size === 0) this.finishContent();
      return;
    }

    this.ex = undefined; // consumed by this entry
    this.lastEntry = entryPath;
    this.handler.entry({
      path: entryPath,
      type,
      mode: h.mode === undefined ? undefined : h.mode & 0o7777,
      uid: h.uid,
      gid: h.gid,
      size,
      mtime: h.mtime,
      atime: h.atime,
      linkpath: linkpath || undefined,
    });
    this.state = 'body';
    if (size === 0) this.finishContent();
  }

  /** The content of the current entry (or meta header) is complete. */
  private finishContent(): void {
    if (this.state === 'meta') {
      const text = Buffer.concat(this.metaParts).toString('utf8');
      this.metaParts = [];
      this.handler.meta?.(text);
      this.applyMeta(text);
    } else {
      this.handler.end();
    }
    this.state = this.pad > 0 ? 'skip' : 'header';
  }

  private applyMeta(text: string): void {
    switch (this.metaType) {
      case 'ExtendedHeader':
      case 'OldExtendedHeader':
        this.ex = Pax.parse(text, this.ex, false);
        return;
      case 'GlobalExtendedHeader':
        this.gex = Pax.parse(text, this.gex, true);
        return;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        this.ex = { ...this.ex, path: text.replace(/\0.*/s, '') };
        return;
      case 'NextFileHasLongLinkpath':
        this.ex = { ...this.ex, linkpath: text.replace(/\0.*/s, '') };
        return;
    }
  }

  private corrupt(what: string): ArchiveError {
    const after = this.lastEntry ? ` after entry ${JSON.stringify(this.lastEntry)}` : '';
    return new ArchiveError('corrupt', `archive is corrupt: ${what} in ${this.archiveName}${after}`);
  }
}

/**
 * gzip on all cores, still one standard `.gz` file.
 *
 * Writing: the data is cut into chunks (2 MiB by default) and every chunk becomes a gzip member of
 * its own (RFC 1952 allows any number of members; gzip, GNU tar, pigz, zcat and Node all read the
 * concatenation as one stream). Chunks are compressed concurrently in the libuv threadpool by a
 * few persistent zlib streams, a fixed number in flight, and written in order, so memory stays at a
 * few chunks whatever the size of the input. A chunk whose samples look like already-compressed data
 * (JPEG/JPEG 2000 pixel data, zip blobs) is stored (deflate block type 0) instead of being run
 * through the compressor: that costs a CRC and a copy instead of ~20 ns/byte for nothing (needs
 * zlib.crc32, Node >= 20.15; older Nodes compress such chunks too).
 *
 * Every member we write carries its own length in the gzip header's FEXTRA field (subfield "OB",
 * like BGZF's "BC"): `member length u32le, uncompressed length u32le`. Readers that do not know the
 * subfield skip it, as RFC 1952 requires; our reader uses it to find the members without inflating
 * and inflates several of them concurrently.
 *
 * Sequential mode (`parallel: false`) keeps the classic single gzip member written by one zlib
 * stream, for comparison and for anyone who needs exactly that.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { gcNudger } from './gc-nudge.js';

/** 2 MiB: fewer members (threadpool round trips, headers, dictionary restarts) than 1 MiB, measurably faster. */
export const DEFAULT_CHUNK_SIZE = 2 * 1024 * 1024;

/**
 * The gzip level we recommend for GZIP_LEVEL with the parallel writer (BENCHMARKS.md has the
 * measurements). On the benchmark's practice-server data, level 5 archives are within 1 % of
 * `gzip -6` for every volume (smaller in total) and take ~15 % less time than level 6; level 4 is
 * faster still but ~4 % larger on natural-language text, level 6 buys 0.2 % for the extra time.
 */
export const RECOMMENDED_GZIP_LEVEL = 5;

/** Members larger than this are not trusted as indexed (a forged header must not make us allocate much). */
const MAX_INDEXED_MEMBER = 64 * 1024 * 1024;
const INDEX_SI1 = 0x4f; // 'O'
const INDEX_SI2 = 0x42; // 'B'
/** gzip header with FEXTRA: 10 fixed bytes + XLEN (2) + subfield header (4) + payload (8). */
export const INDEXED_HEADER_LENGTH = 24;
const TRAILER_LENGTH = 8;
const STORED_BLOCK = 65535;
/** Decoded data goes to the consumer in pieces of this size, with an event loop turn every MAX_SYNC_MS. */
const DELIVER_PIECE = 256 * 1024;
/**
 * Longest stretch of synchronous work before the event loop gets a turn: zlib's threadpool jobs
 * (the next round trip of a member, the next member) can only be started from there.
 */
export const MAX_SYNC_MS = 2;

/**
 * Chunks compressed (or members inflated) at the same time. More than the cores: a core whose job is
 * done has the next one at hand while the main thread is busy reading files (measured on 2 cores:
 * 4 in flight beat 3 by 2-6 %). At most the size of libuv's threadpool (4 unless UV_THREADPOOL_SIZE
 * says otherwise; on machines with more than 4 cores, raise it for the worker).
 */
export function defaultInFlight(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(2, Math.min(cores + 2, pool, 16));
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

// ---------------------------------------------------------------------------------------------
// Incompressible data detection

const SAMPLE = 4096;
const SAMPLES = 8;
/** Shannon entropy (bits per byte) above which a 4 KiB sample looks like compressed data. */
const ENTROPY_LIMIT = 7.8;
/** ...and the deflate test of those samples must save less than this. */
const STORE_IF_RATIO_ABOVE = 0.97;
const log2Table = (() => {
  const t = new Float64Array(SAMPLE + 1);
  for (let i = 1; i <= SAMPLE; i++) t[i] = i * Math.log2(i);
  return t;
})();

function entropy(b: Buffer, start: number, len: number, counts: Uint32Array): number {
  counts.fill(0);
  const end = start + len;
  for (let i = start; i < end; i++) counts[b[i]!]!++;
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += log2Table[counts[i]!]!;
  return Math.log2(len) - sum / len;
}

const counts = new Uint32Array(256);

/**
 * True when nearly all of the chunk looks like already-compressed data: at least 7 of 8 samples
 * of 4 KiB spread over the chunk have a byte entropy near 8 bits, and deflate (level 1) of those
 * samples saves less than 3 % (which catches data with a flat byte histogram but repetitions,
 * e.g. counters). A DICOM header or a text file in one sample does not change the verdict; a
 * chunk that is half text is compressed.
 */
export function looksIncompressible(chunk: Buffer): boolean {
  if (chunk.length < SAMPLES * SAMPLE * 2) return false;
  const step = Math.floor((chunk.length - SAMPLE) / (SAMPLES - 1));
  const high: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const at = i * step;
    if (entropy(chunk, at, SAMPLE, counts) >= ENTROPY_LIMIT) high.push(at);
  }
  if (high.length < SAMPLES - 1) return false;
  const sample = Buffer.allocUnsafe(high.length * SAMPLE);
  high.forEach((at, i) => chunk.copy(sample, i * SAMPLE, at, at + SAMPLE));
  const packed = zlib.deflateRawSync(sample, { level: 1, memLevel: 9 });
  return packed.length > sample.length * STORE_IF_RATIO_ABOVE;
}

const crc32: ((data: Uint8Array, value?: number) => number) | undefined = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** A complete indexed gzip member with the chunk in stored deflate blocks (no compression). */
function storedMember(chunk: Buffer): Buffer[] {
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

// ---------------------------------------------------------------------------------------------
// Persistent zlib streams

/**
 * One zlib stream that compresses or inflates one whole gzip member per call, again and again.
 * A fresh zlib engine per chunk (zlib.gzip(buf, cb)) would cost a deflateInit on the main thread
 * each time, and every finished engine keeps its input and output buffers reachable until two
 * garbage collections have passed (its native handle is released through a weak callback), which
 * let tens of MiB pile up. A slot's stream is reset between members instead.
 */
class ZlibSlot {
  private readonly stream: zlib.Gzip | zlib.Gunzip;
  private parts: Buffer[] = [];
  private bytes = 0;
  private limit = Infinity;
  private settle: ((err: Error | null) => void) | undefined;
  broken: Error | undefined;

  constructor(kind: 'gzip' | 'gunzip', options: zlib.ZlibOptions) {
    this.stream = kind === 'gzip' ? zlib.createGzip(options) : zlib.createGunzip(options);
    this.stream.on('data', (b: Buffer) => {
      this.parts.push(b);
      this.bytes += b.length;
      if (this.bytes > this.limit) this.stream.destroy(new GzipDataError('member longer than its index says', 'Z_DATA_ERROR'));
    });
    this.stream.on('error', (err: Error) => this.finish(err));
    this.stream.on('close', () => this.finish(new Error('zlib stream closed')));
  }

  private finish(err: Error | null): void {
    if (err) this.broken ??= err;
    const s = this.settle;
    this.settle = undefined;
    s?.(err);
  }

  private run(start: (done: (err?: Error | null) => void) => void, limit: number): Promise<Buffer[]> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<Buffer[]>((resolve, reject) => {
      this.parts = [];
      this.bytes = 0;
      this.limit = limit;
      this.settle = (err) => {
        if (err) return reject(err);
        const out = this.parts;
        this.parts = [];
        resolve(out);
      };
      start((err) => this.finish(err ?? null));
    });
  }

  /** A complete gzip member (zlib's 10-byte header) of `input`. */
  deflate(input: Buffer): Promise<Buffer[]> {
    const gz = this.stream as zlib.Gzip;
    return this.run((done) => {
      gz.write(input);
      // The callback is the write callback of the flush: it gets the error, if any.
      (gz.flush as (kind: number, cb: (err?: Error | null) => void) => void)(zlib.constants.Z_FINISH, (err) => {
        if (err || gz.destroyed) return done(err ?? new Error('zlib stream closed'));
        (gz as unknown as zlib.ZlibReset).reset(); // every zlib stream has reset(); the types only declare it for some
        done();
      });
    }, Infinity);
  }

  /** The data of one complete gzip member, refused when longer than `rawLength`. */
  inflate(member: Buffer, rawLength: number): Promise<Buffer[]> {
    return this.run((done) => this.stream.write(member, (err) => done(err)), rawLength);
  }

  close(): void {
    this.settle = undefined;
    this.stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface GzipWriterOptions {
  /** 0-9 */
  level: number;
  /** Independent members compressed on all cores (true) or one sequential gzip stream (false). */
  parallel: boolean;
  chunkSize?: number;
  /** Chunks being compressed at once (parallel mode). */
  maxInFlight?: number;
  /** Store chunks that look incompressible instead of compressing them. Default: on in parallel mode. */
  storeIncompressible?: boolean;
  /**
   * Receives the compressed stream, in order, as one or more buffers per call; synchronous. It may
   * keep none of them after it returns (they are reused). An exception fails the writer.
   */
  onOutput: (parts: Buffer[]) => void;
}

export interface GzipWriterStats {
  chunks: number;
  /** Chunks written as stored blocks (incompressible). */
  stored: number;
  bytesIn: number;
  bytesOut: number;
}

interface Job {
  input: Buffer;
  output: Buffer[] | undefined;
  /** Compressed by zlib (its output buffers are garbage once written), not stored. */
  zlib: boolean;
}

/** zlib's member (10-byte header, deflate data, trailer) with our indexed header instead. */
function indexedFromZlib(parts: Buffer[], rawLength: number): Buffer[] {
  let list = parts;
  if ((list[0]?.length ?? 0) < 10) list = [Buffer.concat(list)];
  const first = list[0]!;
  let total = 0;
  for (const p of list) total += p.length;
  if (first.length < 10 || first[0] !== 0x1f || first[1] !== 0x8b) throw new Error('zlib produced no gzip header');
  return [indexedHeader(INDEXED_HEADER_LENGTH + total - 10, rawLength, first[8] ?? 0), first.subarray(10), ...list.slice(1)];
}

/**
 * Accepts the uncompressed stream (copy with `write`, or fill `space()` and `commit`) and produces
 * gzip. After every write/commit the caller awaits `ready()` when it returns a promise: that is the
 * back-pressure that bounds memory. `end()` flushes; `abort()` drops everything not yet written.
 */
export class GzipChunkWriter {
  readonly stats: GzipWriterStats = { chunks: 0, stored: 0, bytesIn: 0, bytesOut: 0 };
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly maxInFlight: number;
  private readonly storeIncompressible: boolean;
  private readonly onOutput: (parts: Buffer[]) => void;
  private readonly pool: Buffer[] = [];
  private buf: Buffer;
  private fill = 0;
  private readonly queue: Job[] = [];
  private failure: Error | undefined;
  private aborted = false;
  private wake: (() => void) | undefined;
  /** Jobs waiting for a free slot, in order. */
  private readonly waiting: Job[] = [];
  private readonly slots: ZlibSlot[] = [];
  private readonly freeSlots: ZlibSlot[] = [];
  private readonly sequential: { gzip: zlib.Gzip; outstanding: number; ended: Promise<void> } | undefined;
  private readonly nudge = gcNudger();

  constructor(o: GzipWriterOptions) {
    if (!Number.isInteger(o.level) || o.level < 0 || o.level > 9) throw new Error(`gzip level must be an integer 0-9, got ${o.level}`);
    this.level = o.level;
    this.chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 64 * 1024 || this.chunkSize > 16 * 1024 * 1024) {
      throw new Error(`gzip chunk size must be 64 KiB to 16 MiB, got ${this.chunkSize}`);
    }
    this.maxInFlight = o.parallel ? Math.max(1, o.maxInFlight ?? defaultInFlight()) : 2;
    this.storeIncompressible = (o.storeIncompressible ?? o.parallel) && o.parallel && o.level > 0;
    this.onOutput = o.onOutput;
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    if (!o.parallel) {
      const gzip = zlib.createGzip({ level: o.level, chunkSize: 256 * 1024 });
      gzip.on('data', (b: Buffer) => {
        this.emit([b]);
        this.nudge(b.length);
      });
      const ended = new Promise<void>((resolve, reject) => {
        gzip.once('end', resolve);
        gzip.once('error', reject);
      });
      ended.catch((err: Error) => this.failWith(err));
      this.sequential = { gzip, outstanding: 0, ended };
    }
  }

  /** The free rest of the current chunk (never empty): read file data straight into it, then commit. */
  space(): Buffer {
    return this.buf.subarray(this.fill);
  }

  commit(n: number): void {
    if (n < 0 || this.fill + n > this.buf.length) throw new RangeError(`commit(${n}) beyond the chunk`);
    this.fill += n;
    if (this.fill === this.buf.length) this.submit();
  }

  write(data: Buffer): void {
    for (let off = 0; off < data.length; ) {
      const n = Math.min(data.length - off, this.buf.length - this.fill);
      data.copy(this.buf, this.fill, off, off + n);
      off += n;
      this.commit(n);
    }
  }

  zeros(count: number): void {
    for (let left = count; left > 0; ) {
      const n = Math.min(left, this.buf.length - this.fill);
      this.buf.fill(0, this.fill, this.fill + n);
      left -= n;
      this.commit(n);
    }
  }

  /** A promise when too many chunks are in flight (await it before producing more), else undefined. */
  ready(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (this.inFlight() < this.maxInFlight) return undefined;
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    }).then(() => {
      if (this.failure) throw this.failure;
    });
  }

  async end(): Promise<GzipWriterStats> {
    if (this.fill > 0) this.submit();
    while (this.inFlight() > 0 && !this.failure) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.sequential && !this.failure) {
      this.sequential.gzip.end();
      await this.sequential.ended.catch(() => undefined);
    }
    this.closeSlots();
    if (this.failure) throw this.failure;
    return this.stats;
  }

  private closeSlots(): void {
    for (const slot of this.slots) slot.close();
    this.slots.length = 0;
    this.freeSlots.length = 0;
  }

  /** Stop: nothing more is passed to onOutput (late results of the threadpool are dropped). */
  abort(): void {
    this.aborted = true;
    this.queue.length = 0;
    this.waiting.length = 0;
    this.closeSlots();
    this.sequential?.gzip.destroy();
    this.wakeUp();
  }

  private inFlight(): number {
    return this.sequential ? this.sequential.outstanding : this.queue.length;
  }

  private takeBuffer(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafe(this.chunkSize);
  }

  private submit(): void {
    const input = this.buf.subarray(0, this.fill);
    this.buf = this.takeBuffer();
    this.fill = 0;
    if (this.aborted || this.failure) return;
    this.stats.chunks++;
    this.stats.bytesIn += input.length;
    const seq = this.sequential;
    if (seq) {
      seq.outstanding++;
      seq.gzip.write(input, () => {
        seq.outstanding--;
        this.release(input);
        this.wakeUp();
      });
      return;
    }
    const job: Job = { input, output: undefined, zlib: false };
    this.queue.push(job);
    if (crc32 && (this.level === 0 || (this.storeIncompressible && looksIncompressible(input)))) {
      if (this.level > 0) this.stats.stored++;
      job.output = storedMember(input);
      this.pump();
      return;
    }
    job.zlib = true;
    this.waiting.push(job);
    this.schedule();
  }

  /** Start waiting jobs on free slots (a slot per job in flight, created on first use). */
  private schedule(): void {
    while (this.waiting.length > 0 && !this.aborted && !this.failure) {
      let slot = this.freeSlots.pop();
      if (!slot) {
        if (this.slots.length >= this.maxInFlight) return;
        // 256 KiB output buffers: a few threadpool round trips per member, but allocations of one
        // size that malloc reuses; buffers of a chunk's size made the heap fragment and the RSS
        // creep up with the archive size (by 15 MB from 1 to 4 GiB).
        slot = new ZlibSlot('gzip', { level: this.level, chunkSize: 256 * 1024 });
        this.slots.push(slot);
      }
      const job = this.waiting.shift()!;
      const s = slot;
      s.deflate(job.input).then(
        (parts) => {
          if (this.aborted) return;
          this.freeSlots.push(s);
          try {
            job.output = indexedFromZlib(parts, job.input.length);
          } catch (err) {
            return this.failWith(err as Error);
          }
          this.schedule();
          this.pump();
        },
        (err: Error) => {
          if (!this.aborted) this.failWith(err);
        },
      );
    }
  }

  /** Write finished members from the head of the queue, in order. */
  private pump(): void {
    while (!this.aborted && !this.failure) {
      const head = this.queue[0];
      if (!head?.output) break;
      this.queue.shift();
      this.emit(head.output);
      this.release(head.input);
      // zlib's output of this member is garbage now (a stored member references our pooled chunk).
      if (head.zlib) this.nudge(head.output.reduce((n, p) => n + p.length, 0));
    }
    this.wakeUp();
  }

  private emit(parts: Buffer[]): void {
    if (this.aborted || this.failure) return;
    try {
      for (const p of parts) this.stats.bytesOut += p.length;
      this.onOutput(parts);
    } catch (err) {
      this.failWith(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private release(input: Buffer): void {
    if (input.buffer.byteLength === this.chunkSize && this.pool.length < this.maxInFlight + 1) {
      this.pool.push(Buffer.from(input.buffer, input.byteOffset, this.chunkSize));
    }
  }

  private failWith(err: Error): void {
    this.failure ??= err;
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** Write all of `parts` to `fd` at the current position (writev, retrying short writes). */
export function writevAll(fd: number, parts: Buffer[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  let written = 0;
  let list = parts;
  while (written < total) {
    const n = fs.writevSync(fd, list.length > 1024 ? list.slice(0, 1024) : list);
    written += n;
    if (written >= total) break;
    // Drop what was written (short write, or more than IOV_MAX buffers).
    let skip = n;
    const rest: Buffer[] = [];
    for (const p of list) {
      if (skip >= p.length) {
        skip -= p.length;
        continue;
      }
      rest.push(skip > 0 ? p.subarray(skip) : p);
      skip = 0;
    }
    list = rest;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Reader

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

export interface GzipReadOptions {
  /** Every byte of the file, in order, as it is read (hashing, progress); the buffer is reused afterwards. */
  onCompressed: (buf: Buffer) => void;
  /**
   * The decompressed stream in order; synchronous. Throwing stops the read and rejects with that
   * error. The buffer may be kept (it is never reused).
   */
  onData: (buf: Buffer) => void;
  signal?: AbortSignal;
  /** Members inflated at once (indexed archives). */
  maxInFlight?: number;
  /** Read size for archives without an index. */
  readChunk?: number;
  /** Output chunk of the streaming gunzip for archives without an index. */
  outChunk?: number;
}

export interface GzipReadResult {
  /** Bytes of the file read (all of it on success). */
  bytesRead: number;
  /** Members inflated concurrently thanks to their index; 0 for other gzip files. */
  indexedMembers: number;
}

/**
 * Read a gzip file completely: members with our index are read whole and inflated concurrently in
 * the threadpool, and everything from the first member without one (GNU tar, gzip, pigz archives)
 * is decoded by one streaming gunzip that runs ahead of the consumer. The decoded bytes and the
 * errors are the same as a plain `zlib.createGunzip()` over the whole file would give.
 */
export async function readGzipFile(file: string, o: GzipReadOptions): Promise<GzipReadResult> {
  const fd = fs.openSync(file, 'r');
  let bytesRead = 0;
  let indexedMembers = 0;
  const queue: Promise<Buffer[]>[] = [];
  /** Jobs in `queue` whose inflation has finished. */
  const finished = new WeakSet<Promise<Buffer[]>>();
  const slots: ZlibSlot[] = [];
  const freeSlots: ZlibSlot[] = [];
  const memberPool: Buffer[] = [];
  const nudge = gcNudger();
  let lastYield = Date.now();
  /**
   * Hand the data over in pieces and give the event loop a turn every couple of milliseconds: a
   * member whose output crosses the end of a slot's output buffer needs a second threadpool round
   * trip, which only the main thread can start. Without these turns the inflating threads would
   * wait for the consumer to finish a whole member (many small files: ~10 ms).
   */
  const deliver = async (parts: Buffer[]) => {
    for (const p of parts) {
      for (let off = 0; off < p.length; off += DELIVER_PIECE) {
        o.onData(off === 0 && p.length <= DELIVER_PIECE ? p : p.subarray(off, off + DELIVER_PIECE));
        if (Date.now() - lastYield >= MAX_SYNC_MS) {
          await new Promise((r) => setImmediate(r));
          lastYield = Date.now();
          o.signal?.throwIfAborted();
        }
      }
      nudge(p.length);
    }
  };
  try {
    const size = fs.fstatSync(fd).size;
    const maxInFlight = Math.max(1, o.maxInFlight ?? defaultInFlight());
    /**
     * Members read ahead and inflated at once, adapted to who waits for whom: when the next member
     * is always ready by the time the consumer wants it (many small files: the consumer's syscalls
     * are the bottleneck), two are enough (one inflating while the consumer writes the other), and
     * more would only take CPU from the consumer on a small machine; when the consumer has to wait
     * for the inflation (large files), up to maxInFlight.
     */
    const minDepth = Math.min(2, maxInFlight);
    let depth = maxInFlight;
    const takeHead = async (): Promise<Buffer[]> => {
      const head = queue.shift()!;
      if (finished.has(head)) depth = Math.max(minDepth, depth - 1);
      else depth = Math.min(maxInFlight, depth + 1);
      return head;
    };
    let pos = 0;
    /**
     * The next member, read in the threadpool while the consumer writes the previous ones: with
     * synchronous reads, an archive that is not in the page cache (a restore reads it for the first
     * time in days) made the one thread alternate between waiting for the disk to read and to write.
     */
    const readMember = async (at: number): Promise<{ buf: Buffer; member: Buffer; rawLength: number } | undefined> => {
      if (at >= size) return undefined;
      const head = Buffer.alloc(INDEXED_HEADER_LENGTH);
      const n = await readAt(fd, head, at);
      const idx = parseIndexedHeader(head.subarray(0, n));
      if (!idx || at + idx.memberLength > size) return undefined;
      // Compressed members are read into reused buffers (zlib is done with one when it returns).
      let buf = memberPool.pop();
      if (!buf || buf.length < idx.memberLength) buf = Buffer.allocUnsafe(Math.max(idx.memberLength, DEFAULT_CHUNK_SIZE + 64 * 1024));
      const member = buf.subarray(0, idx.memberLength);
      if ((await readAt(fd, member, at)) !== member.length) throw new GzipDataError('unexpected end of file', 'Z_BUF_ERROR');
      return { buf, member, rawLength: idx.rawLength };
    };
    let ahead = readMember(0);
    ahead.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
    for (;;) {
      o.signal?.throwIfAborted();
      const next = await ahead;
      if (!next) break;
      const { buf, member } = next;
      pos += member.length;
      ahead = readMember(pos);
      ahead.catch(() => undefined);
      bytesRead += member.length;
      o.onCompressed(member);
      const slot = freeSlots.pop() ?? new ZlibSlot('gunzip', { chunkSize: DEFAULT_CHUNK_SIZE + 1024 });
      if (!slots.includes(slot)) slots.push(slot);
      const rawLength = next.rawLength;
      const pooled = buf;
      const job = slot.inflate(member, rawLength).then(
        (parts) => {
          freeSlots.push(slot);
          if (memberPool.length <= maxInFlight) memberPool.push(pooled);
          let got = 0;
          for (const p of parts) got += p.length;
          if (got !== rawLength) throw new GzipDataError('member length does not match its index', 'Z_DATA_ERROR');
          return parts;
        },
        (err: Error) => {
          if (err instanceof GzipDataError) throw err;
          throw new GzipDataError(err.message, (err as NodeJS.ErrnoException).code ?? 'Z_DATA_ERROR', { cause: err });
        },
      );
      // Handled when it reaches the head of the queue; until then a failure must not count as unhandled.
      job.then(
        () => finished.add(job),
        () => undefined,
      );
      queue.push(job);
      indexedMembers++;
      while (queue.length >= depth) await deliver(await takeHead());
      if (Date.now() - lastYield >= MAX_SYNC_MS) {
        await new Promise((r) => setImmediate(r));
        lastYield = Date.now();
      }
    }
    while (queue.length > 0) {
      o.signal?.throwIfAborted();
      await deliver(await takeHead());
    }
    if (pos < size) {
      if (indexedMembers > 0 && firstByte(fd, pos) === 0) {
        // After a member, zlib stops at a zero byte and ignores the rest (tar-style zero padding).
        bytesRead += hashRest(fd, pos, size, o);
      } else {
        bytesRead += await streamRest(file, pos, size, o);
      }
    } else if (size === 0) {
      throw new GzipDataError('unexpected end of file', 'Z_BUF_ERROR');
    }
    return { bytesRead, indexedMembers };
  } finally {
    // Inflations still running are left to finish; nobody waits for them.
    for (const p of queue) p.catch(() => undefined);
    for (const slot of slots) slot.close();
    fs.closeSync(fd);
  }
}

/** Read buf.length bytes at pos (fewer only at the end of the file), in the threadpool. */
async function readAt(fd: number, buf: Buffer, pos: number): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, buf, off, buf.length - off, pos + off, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    if (n === 0) break;
    off += n;
  }
  return off;
}

function firstByte(fd: number, pos: number): number | undefined {
  const b = Buffer.alloc(1);
  return fs.readSync(fd, b, 0, 1, pos) === 1 ? b[0] : undefined;
}

function hashRest(fd: number, pos: number, size: number, o: GzipReadOptions): number {
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, size - pos));
  let read = 0;
  while (pos + read < size) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos - read), pos + read);
    if (n === 0) break;
    o.onCompressed(Buffer.from(buf.subarray(0, n)));
    read += n;
  }
  return read;
}

/**
 * The rest of the file through one streaming gunzip. The consumer runs in a later turn of the
 * event loop than the gunzip callback that produced the data, so zlib starts on the next piece in
 * the threadpool while the consumer works (a plain pipe would do the two strictly in turn).
 */
async function streamRest(file: string, start: number, size: number, o: GzipReadOptions): Promise<number> {
  let read = 0;
  const source = fs.createReadStream(file, { start, end: size - 1, highWaterMark: o.readChunk ?? 256 * 1024 });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      try {
        o.onCompressed(chunk);
      } catch (err) {
        return cb(err instanceof Error ? err : new Error(String(err)));
      }
      cb(null, chunk);
    },
  });
  let zlibError: Error | undefined;
  const gunzip = zlib.createGunzip({ chunkSize: o.outChunk ?? 256 * 1024 });
  gunzip.once('error', (err) => (zlibError ??= err));
  let consumerError: Error | undefined;
  const nudge = gcNudger();
  const sink = new Writable({
    highWaterMark: 2 * 1024 * 1024,
    write(chunk: Buffer, _enc, cb) {
      setImmediate(() => {
        try {
          o.onData(chunk);
          nudge(chunk.length);
          cb();
        } catch (err) {
          consumerError ??= err instanceof Error ? err : new Error(String(err));
          cb(consumerError);
        }
      });
    },
  });
  try {
    await pipeline(source, counter, gunzip, sink, o.signal ? { signal: o.signal } : {});
  } catch (err) {
    if (consumerError) throw consumerError;
    if (o.signal?.aborted) throw err;
    if (zlibError) {
      throw new GzipDataError(zlibError.message, (zlibError as NodeJS.ErrnoException).code ?? 'Z_DATA_ERROR', { cause: zlibError });
    }
    throw err;
  }
  return read;
}

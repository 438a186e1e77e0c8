/**
 * gzip on all cores, still one standard `.gz` file: the writer of every archive.
 *
 * The data is cut into chunks (2 MiB by default) and every chunk becomes a gzip member of its own
 * (gzip-members.ts: any gzip reader reads the concatenation as one stream, ours finds the members by
 * their index). Chunks are compressed concurrently in the libuv threadpool by a few persistent zlib
 * streams, a fixed number in flight, and written in order (member-pipeline.ts), so memory stays at a
 * few chunks whatever the size of the input. A chunk whose samples look like already-compressed data
 * (JPEG/JPEG 2000 pixel data, zip blobs) is stored (deflate block type 0) instead of being run
 * through the compressor (incompressible.ts).
 *
 * Sequential mode (`parallel: false`) keeps the classic single gzip member written by one zlib
 * stream, for comparison and for anyone who needs exactly that.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { gcNudger } from './gc-nudge.js';
import { DEFAULT_CHUNK_SIZE } from './gzip-members.js';
import { MemberPipeline } from './member-pipeline.js';
import { defaultInFlight } from './zlib-slots.js';

/**
 * The gzip level we recommend for GZIP_LEVEL with the parallel writer (BENCHMARKS.md has the
 * measurements). On the benchmark's practice-server data, level 5 archives are within 1 % of
 * `gzip -6` for every volume (smaller in total) and take ~15 % less time than level 6; level 4 is
 * faster still but ~4 % larger on natural-language text, level 6 buys 0.2 % for the extra time.
 */
export const RECOMMENDED_GZIP_LEVEL = 5;

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
  private readonly onOutput: (parts: Buffer[]) => void;
  /** Chunk buffers handed back after their member was written, for reuse. */
  private readonly pool: Buffer[] = [];
  private buf: Buffer;
  private fill = 0;
  private failure: Error | undefined;
  private aborted = false;
  private wake: (() => void) | undefined;
  /** Parallel mode: the chunks on their way to members. */
  private readonly members: MemberPipeline | undefined;
  /** Sequential mode: the one zlib stream and the chunks it has not taken yet. */
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
    this.onOutput = o.onOutput;
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    if (o.parallel) {
      this.members = new MemberPipeline({
        level: o.level,
        maxInFlight: this.maxInFlight,
        storeIncompressible: (o.storeIncompressible ?? true) && o.level > 0,
        onMember: (parts, input, compressed) => {
          this.emit(parts);
          this.release(input);
          // zlib's output of this member is garbage now (a stored member references our pooled chunk).
          if (compressed) this.nudge(parts.reduce((n, p) => n + p.length, 0));
        },
        onPumped: () => this.wakeUp(),
        onError: (err) => this.failWith(err),
      });
    } else {
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

  /** Uncompressed bytes taken so far. */
  get written(): number {
    return this.stats.bytesIn + this.fill;
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
    this.members?.close();
    if (this.failure) throw this.failure;
    return this.stats;
  }

  /** Stop: nothing more is passed to onOutput (late results of the threadpool are dropped). */
  abort(): void {
    this.aborted = true;
    this.members?.abort();
    this.sequential?.gzip.destroy();
    this.wakeUp();
  }

  private inFlight(): number {
    return this.sequential ? this.sequential.outstanding : this.members!.inFlight;
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
    const stored = this.members!.add(input);
    if (stored && this.level > 0) this.stats.stored++;
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
    this.members?.stop();
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

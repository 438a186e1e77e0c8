/**
 * zlib in libuv's threadpool, shared by the parallel writer and reader: the persistent zlib streams
 * ("slots") that deflate or inflate one whole gzip member per call, how many members are in flight
 * at once, and how long the main thread may keep them waiting.
 */
import os from 'node:os';
import zlib from 'node:zlib';
import { GzipDataError } from './gzip-members.js';

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

/**
 * One zlib stream that compresses or inflates one whole gzip member per call, again and again.
 * A fresh zlib engine per chunk (zlib.gzip(buf, cb)) would cost a deflateInit on the main thread
 * each time, and every finished engine keeps its input and output buffers reachable until two
 * garbage collections have passed (its native handle is released through a weak callback), which
 * let tens of MiB pile up. A slot's stream is reset between members instead.
 */
export class ZlibSlot {
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

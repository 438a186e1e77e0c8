/**
 * Reading a gzip file on all cores: members with our index (gzip-members.ts) are read whole and
 * inflated concurrently in the threadpool (by libdeflate when its binding is built, libdeflate.ts;
 * else by zlib); everything from the first member without one (archives
 * of GNU tar, gzip, pigz) is decoded by one streaming gunzip that runs ahead of the consumer. The
 * decoded bytes and the errors are the same as a plain `zlib.createGunzip()` over the whole file
 * would give. Restores and verification read every archive through here.
 */
import fs from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { gcNudger } from './gc-nudge.js';
import { DEFAULT_CHUNK_SIZE, GzipDataError, INDEXED_HEADER_LENGTH, parseIndexedHeader } from './gzip-members.js';
import { libdeflateInflater } from './libdeflate.js';
import { defaultInFlight, MAX_SYNC_MS, ZlibSlot } from './zlib-slots.js';

/** Decoded data goes to the consumer in pieces of this size, with an event loop turn every MAX_SYNC_MS. */
const DELIVER_PIECE = 256 * 1024;

export interface GzipReadOptions {
  /** Every byte of the file, in order, as it is read (hashing, progress); the buffer is reused afterwards. */
  onCompressed: (buf: Buffer) => void;
  /**
   * The decompressed stream in order; synchronous. Throwing stops the read and rejects with that
   * error. The buffer may be kept (it is never reused).
   */
  onData: (buf: Buffer) => void;
  /**
   * Asked after each piece handed to onData: a promise makes the read wait for it (a slower
   * second consumer of the same bytes, such as GNU tar's listing through a pipe).
   */
  backpressure?: () => Promise<void> | undefined;
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
  /** One indexed member's data: by libdeflate when it is built (twice as fast), else on a zlib slot. */
  const libdeflate = libdeflateInflater();
  const inflate = async (member: Buffer, rawLength: number): Promise<Buffer[]> => {
    if (libdeflate) return [await libdeflate(member, rawLength)];
    const slot = freeSlots.pop() ?? new ZlibSlot('gunzip', { chunkSize: DEFAULT_CHUNK_SIZE + 1024 });
    if (!slots.includes(slot)) slots.push(slot);
    let parts: Buffer[];
    try {
      parts = await slot.inflate(member, rawLength);
    } catch (err) {
      if (err instanceof GzipDataError) throw err;
      throw new GzipDataError((err as Error).message, (err as NodeJS.ErrnoException).code ?? 'Z_DATA_ERROR', { cause: err });
    }
    freeSlots.push(slot);
    let got = 0;
    for (const p of parts) got += p.length;
    if (got !== rawLength) throw new GzipDataError('member length does not match its index', 'Z_DATA_ERROR');
    return parts;
  };
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
        const wait = o.backpressure?.();
        if (wait) {
          await wait;
          lastYield = Date.now();
          o.signal?.throwIfAborted();
        } else if (Date.now() - lastYield >= MAX_SYNC_MS) {
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
      const rawLength = next.rawLength;
      const pooled = buf;
      const job = inflate(member, rawLength).then((parts) => {
        if (memberPool.length <= maxInFlight) memberPool.push(pooled);
        return parts;
      });
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
        } catch (err) {
          consumerError ??= err instanceof Error ? err : new Error(String(err));
          cb(consumerError);
          return;
        }
        const wait = o.backpressure?.();
        if (wait) void wait.then(() => cb(), (err: Error) => cb((consumerError ??= err)));
        else cb();
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

/**
 * Writer threads for the small files of a restore.
 *
 * Why: restoring many small files is bound by the kernel's work per created file (inode
 * allocation, directory entry, page cache), and one thread does those syscalls one after the
 * other, as GNU tar does. Files in different directories can be created in parallel, so the main
 * thread hands small files, already checked, to writer threads and goes on parsing.
 *
 * How: each file goes to the writer chosen by its directory, so two entries of the same name are
 * written in archive order. Files are encoded into fixed batch slots in shared memory
 * (extract-writers-protocol.ts); a writer has at most SLOTS batches outstanding, so memory is fixed
 * (SLOTS x SLOT_BYTES per writer). The main thread waits with Atomics.wait (it runs synchronously
 * inside the tar reader's callbacks) and drains all writers before anything whose correctness
 * depends on the files being there: a symlink or hard link, an entry of a name still being
 * written, the directories' metadata at the end.
 *
 * Safety stays on the main thread: it checks every entry and makes every directory before a file
 * in it is sent; writers create files with O_EXCL|O_NOFOLLOW in those directories.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import {
  BATCH_FILES,
  CLOSE,
  ctl,
  ctlLength,
  encodeRecord,
  MAX_PATH_BYTES,
  recordBytes,
  SLOT_BYTES,
  SLOTS,
  STOP,
  type FileRecord,
  type WriterData,
  type WriterFailure,
} from './extract-writers-protocol.js';

export type { WriterFailure };

/** Larger files are written by the main thread: they are few, and copying them would only cost. */
export const MAX_POOLED_FILE = 128 * 1024;
/**
 * A writer that finishes nothing for this long is taken as gone: a crashed thread never counts its
 * batch, and its 'error' event cannot arrive while we wait synchronously. The main thread waits
 * synchronously, so this must stay well below the job lock's duration (LOCK_DURATION, 60 s by
 * default): the restore passes a quarter of it. A batch is at most 128 small files.
 */
export const DEFAULT_STALL_MS = 15_000;

interface Writer {
  index: number;
  worker: Worker;
  errors: MessagePort;
  slots: Buffer[];
  /** Batches published so far. */
  sent: number;
  /** The batch being filled (in slots[sent % SLOTS]): bytes used and files. */
  used: number;
  rels: string[];
  /** Published batches not known to be written yet, with their files' relative paths. */
  inFlight: { seq: number; rels: string[] }[];
  crashed: Error | undefined;
}

/** Where the content of a reserved file goes. */
export interface Reservation {
  buf: Buffer;
  off: number;
  writer: number;
  rel: string;
  end: number;
}

export class ExtractWriters {
  private readonly state: Int32Array;
  private readonly writers: Writer[] = [];
  /** Relative paths sent and not yet written → how many times (an archive may name a file twice). */
  private readonly pending = new Map<string, number>();
  private closed = false;
  private failed: WriterFailure | undefined;
  private readonly stallMs: number;

  /** `toError` turns a writer's failure into the error the restore reports. */
  constructor(
    count: number,
    /** The staging directory as a binary string. */
    private readonly root: string,
    stallMs: number,
    private readonly toError: (f: WriterFailure) => Error,
  ) {
    this.stallMs = stallMs;
    const control = new SharedArrayBuffer(ctlLength(count) * Int32Array.BYTES_PER_ELEMENT);
    this.state = new Int32Array(control);
    for (let index = 0; index < count; index++) {
      const slots = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
      const { port1, port2 } = new MessageChannel();
      const worker = startThread({ control, slots, index, root, errors: port2 }, [port2]);
      const w: Writer = {
        index,
        worker,
        errors: port1,
        slots: Array.from({ length: SLOTS }, (_, i) => Buffer.from(slots, i * SLOT_BYTES, SLOT_BYTES)),
        sent: 0,
        used: 4,
        rels: [],
        inFlight: [],
        crashed: undefined,
      };
      // Only a bug or the runtime can end a writer early; recorded so that waits fail instead of hanging.
      worker.on('error', (err) => (w.crashed = err));
      worker.unref();
      this.writers.push(w);
    }
  }

  /** Every thread has started (before, the caller does better writing itself than waiting). */
  get ready(): boolean {
    return this.writers.every((w) => Atomics.load(this.state, ctl(w.index, 'ready')) === 1);
  }

  /** Block until every thread has started. */
  waitUntilReady(): void {
    for (const w of this.writers) this.waitFor(w, 'ready', (v) => v === 1);
  }

  /** A file of this relative path was sent and may not be written yet. */
  has(rel: string): boolean {
    return this.pending.has(rel);
  }

  /** Whether a file with these paths and size can go to a writer at all. */
  fits(rel: string, raw: string, len: number): boolean {
    // Binary strings: one char per byte.
    return this.root.length + 1 + rel.length <= MAX_PATH_BYTES && raw.length <= MAX_PATH_BYTES && len <= MAX_POOLED_FILE && recordBytes(rel.length, raw.length, len) <= SLOT_BYTES - 4;
  }

  /**
   * Room for a file (one that `fits`) in directory `dir` (relative); the caller copies exactly
   * `len` content bytes to buf[off...] and then calls commit. One file at a time.
   */
  reserve(dir: string, f: FileRecord, len: number): Reservation {
    this.throwIfFailed();
    const w = this.writers[pick(dir, this.writers.length)]!;
    const need = recordBytes(f.rel.length, f.raw.length, len);
    if (w.used + need > SLOT_BYTES) this.publish(w);
    const buf = w.slots[w.sent % SLOTS]!;
    const off = encodeRecord(buf, w.used, f, len);
    return { buf, off, writer: w.index, rel: f.rel, end: off + len };
  }

  /** The reserved file's content is complete: it is part of the batch. */
  commit(r: Reservation): void {
    const w = this.writers[r.writer]!;
    w.used = r.end;
    w.rels.push(r.rel);
    this.pending.set(r.rel, (this.pending.get(r.rel) ?? 0) + 1);
    if (w.rels.length >= BATCH_FILES) this.publish(w);
  }

  /** Publish what is queued and wait until every file is written; throws the first failure. */
  drain(): void {
    for (const w of this.writers) this.publish(w);
    for (const w of this.writers) {
      this.waitFor(w, 'done', (v) => v >= w.sent);
      this.prune(w);
    }
    this.throwIfFailed();
  }

  /**
   * Stop (what is still queued is skipped), wait until no thread writes any more, end the threads.
   * After this nothing more is written, so the caller may remove the staging directory.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.state, STOP, 1);
    Atomics.store(this.state, CLOSE, 1);
    for (const w of this.writers) {
      Atomics.notify(this.state, ctl(w.index, 'sent'));
      try {
        this.waitFor(w, 'done', (v) => v >= w.sent);
      } catch {
        // A crashed or stuck thread: terminate() below ends it.
      }
    }
    await Promise.all(this.writers.map((w) => w.worker.terminate()));
  }

  /** The first failure a writer reported (after it every writer skips the rest). */
  private throwIfFailed(): void {
    if (!this.failed && Atomics.load(this.state, STOP) !== 0) {
      for (const w of this.writers) {
        const m = receiveMessageOnPort(w.errors);
        if (m) {
          this.failed = m.message as WriterFailure;
          break;
        }
      }
    }
    if (this.failed) throw this.toError(this.failed);
  }

  /** Hand the batch being filled to its writer; then wait until the next slot is free. */
  private publish(w: Writer): void {
    if (w.rels.length === 0) return;
    this.throwIfFailed();
    const slot = w.slots[w.sent % SLOTS]!;
    slot.writeUInt32LE(w.rels.length, 0);
    w.sent++;
    w.inFlight.push({ seq: w.sent, rels: w.rels });
    Atomics.store(this.state, ctl(w.index, 'sent'), w.sent);
    Atomics.notify(this.state, ctl(w.index, 'sent'));
    w.rels = [];
    w.used = 4;
    this.waitFor(w, 'done', (v) => w.sent - v < SLOTS);
    this.prune(w);
  }

  /** Forget the paths of batches that are written. */
  private prune(w: Writer): void {
    const done = Atomics.load(this.state, ctl(w.index, 'done'));
    while (w.inFlight.length > 0 && w.inFlight[0]!.seq <= done) {
      for (const rel of w.inFlight.shift()!.rels) {
        const n = this.pending.get(rel)! - 1;
        if (n === 0) this.pending.delete(rel);
        else this.pending.set(rel, n);
      }
    }
  }

  private waitFor(w: Writer, what: 'ready' | 'done', ok: (v: number) => boolean): void {
    const i = ctl(w.index, what);
    let v = Atomics.load(this.state, i);
    let since = Date.now();
    while (!ok(v)) {
      if (w.crashed) throw new Error(`restore writer thread ${w.index} failed: ${w.crashed.message}`, { cause: w.crashed });
      Atomics.wait(this.state, i, v, Math.min(1000, this.stallMs));
      const now = Atomics.load(this.state, i);
      if (now !== v) since = Date.now();
      else if (Date.now() - since > this.stallMs) throw new Error(`restore writer thread ${w.index} made no progress for ${this.stallMs / 1000} s`);
      v = now;
    }
  }
}

/** The writer for a directory: all files of one directory go to the same thread, in order. */
function pick(dir: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < dir.length; i++) h = Math.imul(h ^ dir.charCodeAt(i), 16777619);
  return (h >>> 0) % n;
}

/**
 * Start the thread's module next to this one: the .js file when compiled (`npm start`, the Docker
 * image); when we run through tsx (the tests), the .ts file, whose thread must first register tsx's
 * loader (Node 20 does not pass a parent's `--import` hooks on to worker threads).
 */
function startThread(workerData: WriterData & { errors: MessagePort }, transferList: MessagePort[]): Worker {
  const self = fileURLToPath(import.meta.url);
  const file = path.join(path.dirname(self), `extract-writer-thread${path.extname(self)}`);
  // No inherited node options: some make a thread fail at startup (`--input-type` of `node -e`).
  const options = { workerData, transferList, execArgv: [] };
  if (path.extname(self) !== '.ts') return new Worker(file, options);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })`;
  return new Worker(code, { ...options, eval: true });
}

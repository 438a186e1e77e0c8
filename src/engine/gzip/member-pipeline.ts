/**
 * The parallel half of the gzip writer: turns chunks into indexed gzip members (gzip-members.ts) on
 * several zlib slots at once and hands the members back in input order. A chunk that looks
 * incompressible becomes a stored member at once; every other chunk waits for a free slot. The
 * writer (parallel-gzip.ts) bounds how many chunks are in flight; this class only keeps their order.
 */
import { canStoreMembers, indexedFromZlib, storedMember } from './gzip-members.js';
import { looksIncompressible } from './incompressible.js';
import { ZlibSlot } from './zlib-slots.js';

export interface MemberPipelineOptions {
  /** 0-9; level 0 stores every chunk. */
  level: number;
  /** Slots (zlib streams) at most, i.e. chunks compressed at once. */
  maxInFlight: number;
  /** Store chunks that look incompressible instead of compressing them. */
  storeIncompressible: boolean;
  /**
   * The next member, in input order, with the chunk it was made of and whether zlib compressed it
   * (its output buffers are garbage once written; a stored member references the chunk itself).
   */
  onMember: (parts: Buffer[], input: Buffer, compressed: boolean) => void;
  /** After every round of handing out members, also when none was ready. */
  onPumped: () => void;
  /** A slot failed, or zlib's output was not a gzip member. */
  onError: (err: Error) => void;
}

interface Job {
  input: Buffer;
  output: Buffer[] | undefined;
  /** Compressed by zlib, not stored. */
  zlib: boolean;
}

export class MemberPipeline {
  /** Every chunk not yet handed out, in input order. */
  private readonly queue: Job[] = [];
  /** Jobs waiting for a free slot, in order. */
  private readonly waiting: Job[] = [];
  private readonly slots: ZlibSlot[] = [];
  private readonly freeSlots: ZlibSlot[] = [];
  private stopped = false;

  constructor(private readonly o: MemberPipelineOptions) {}

  /** Chunks added and not yet handed out. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Queue a chunk (the pipeline owns it until onMember returns it); true when it is stored, not compressed. */
  add(input: Buffer): boolean {
    const job: Job = { input, output: undefined, zlib: false };
    this.queue.push(job);
    if (canStoreMembers && (this.o.level === 0 || (this.o.storeIncompressible && looksIncompressible(input)))) {
      job.output = storedMember(input);
      this.pump();
      return true;
    }
    job.zlib = true;
    this.waiting.push(job);
    this.schedule();
    return false;
  }

  /** Hand out nothing more and start nothing more (the writer failed). */
  stop(): void {
    this.stopped = true;
  }

  /** Stop, drop every chunk not handed out, and close the slots (late results are dropped). */
  abort(): void {
    this.stop();
    this.queue.length = 0;
    this.waiting.length = 0;
    this.close();
  }

  /** Close the zlib streams (when done). */
  close(): void {
    for (const slot of this.slots) slot.close();
    this.slots.length = 0;
    this.freeSlots.length = 0;
  }

  /** Start waiting jobs on free slots (a slot per job in flight, created on first use). */
  private schedule(): void {
    while (this.waiting.length > 0 && !this.stopped) {
      let slot = this.freeSlots.pop();
      if (!slot) {
        if (this.slots.length >= this.o.maxInFlight) return;
        // 256 KiB output buffers: a few threadpool round trips per member, but allocations of one
        // size that malloc reuses; buffers of a chunk's size made the heap fragment and the RSS
        // creep up with the archive size (by 15 MB from 1 to 4 GiB).
        slot = new ZlibSlot('gzip', { level: this.o.level, chunkSize: 256 * 1024 });
        this.slots.push(slot);
      }
      const job = this.waiting.shift()!;
      const s = slot;
      s.deflate(job.input).then(
        (parts) => {
          if (this.stopped) return;
          this.freeSlots.push(s);
          try {
            job.output = indexedFromZlib(parts, job.input.length);
          } catch (err) {
            return this.fail(err as Error);
          }
          this.schedule();
          this.pump();
        },
        (err: Error) => {
          if (!this.stopped) this.fail(err);
        },
      );
    }
  }

  /** Hand out finished members from the head of the queue, in order. */
  private pump(): void {
    while (!this.stopped) {
      const head = this.queue[0];
      if (!head?.output) break;
      this.queue.shift();
      this.o.onMember(head.output, head.input, head.zlib);
    }
    this.o.onPumped();
  }

  private fail(err: Error): void {
    this.stop();
    this.o.onError(err);
  }
}

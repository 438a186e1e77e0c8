/**
 * Keeps the garbage of large buffers from piling up.
 *
 * gzip and gunzip in Node allocate a fresh output Buffer per chunk (zlib has no API to reuse one),
 * so an archive or restore turns its whole data volume over in buffers that live a few
 * milliseconds. While they are in use, V8's frequent minor collections move them to the old
 * generation, and V8 runs a full collection for them only after ~64 MB have accumulated: close to
 * half of our memory budget. So every 8 MiB of turnover we look at the memory held by ArrayBuffers
 * and run a full collection when it exceeds 40 MiB: with our small heap 5-10 ms about every
 * 30-40 MiB processed (0.1-0.3 s per GiB on 2 busy cores), for a peak that no longer depends on
 * V8's heuristics. Measured on the 300 MiB bench set (2026-12-01), peak RSS of a restore with the
 * nudge / without: database 101-110 / 143-147 MB, PACS 107-112 / 141-143 MB, Lucinda 131-135 /
 * 141-158 MB.
 *
 * Needs the `gc` function, which V8 exposes only when node starts with `--expose-gc`: the processes
 * that run jobs are started that way (`npm start`, `npm run start:worker`, the image's CMD, the
 * worker in docker-compose.yaml). The flag changes no collector behaviour, it only makes the
 * function callable. Without it the nudge does nothing and V8's own heuristics apply.
 */

import { getHeapStatistics } from 'node:v8';
import { trimMalloc } from './libdeflate.js';

type GcFunction = () => void;

/** V8's `gc`, present when node was started with --expose-gc. */
function exposedGc(): GcFunction | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : undefined;
}

/** Whether the nudge can work in this process (node was started with --expose-gc). */
export function canNudgeGc(): boolean {
  return exposedGc() !== undefined;
}

/**
 * Call the returned function with the size of every large buffer that is done with. Every `every`
 * bytes it checks the memory of all ArrayBuffers (Buffers) and runs a full, synchronous collection
 * when that exceeds `limit`. (Called without options: `gc({ type: 'major' })` leaves the freeing
 * of ArrayBuffer memory to a background task, which on busy cores comes much later.)
 */
export function gcNudger(every = 8 * 1024 * 1024, limit = 40 * 1024 * 1024): (bytes: number) => void {
  const gc = exposedGc();
  if (!gc) return () => undefined;
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    if (process.memoryUsage().arrayBuffers > limit) gc();
  };
}

/**
 * The same for work whose garbage comes per entry rather than per buffer: a walk over a million
 * small files turns over a few Stats objects (with their Dates), paths and headers per file and
 * almost no buffer bytes, so gcNudger never fires. The small young generation (worker-process.ts)
 * promotes part of it to the old generation, which V8 collects only when it has grown a lot: the
 * archive of 1,000,000 empty files peaked at 178 MiB in the worker, in a sawtooth between 135 and
 * 178 (BENCHMARKS.md). Call the returned function once per entry: every `every` entries it looks at
 * the heap in use (a cheap call) and runs a full collection when it is above `limit` and `headroom`
 * above what the last collection left (so a process whose live heap is large anyway does not
 * collect every time). With it that archive peaked at 133 MiB, in the same time.
 */
export function heapNudger(every = 10_000, limit = 48 * 1024 * 1024, headroom = 24 * 1024 * 1024): () => void {
  const gc = exposedGc();
  if (!gc) return () => undefined;
  let since = 0;
  let threshold = limit;
  return () => {
    if (++since < every) return;
    since = 0;
    if (getHeapStatistics().used_heap_size <= threshold) return;
    gc();
    threshold = Math.max(limit, getHeapStatistics().used_heap_size + headroom);
  };
}

/**
 * Gives the memory of finished work back to the system: one full collection, then glibc's
 * `malloc_trim(0)` (the libdeflate binding's second function, libdeflate.ts `trimMalloc`).
 *
 * Why the trim: our data passes through 2 MiB Buffers, which V8 allocates with malloc. After the
 * first few, glibc raises its mmap threshold above their size, so later ones come from the malloc
 * heap, between small long-lived allocations; when they are freed, glibc keeps those pages (only a
 * free chunk at the very top of a heap goes back by itself). A worker therefore started each job
 * with the previous one's buffers still resident: after a 4 GiB restore's extraction 115-123 MiB
 * instead of ~90, on which the safety backup then added its own ~45 MiB (peak 165 MiB, BENCHMARKS.md).
 * `malloc_trim(0)` returns every free page of every arena (MADV_DONTNEED), in ~15 ms; the memory
 * is faulted in again when used, which costs nothing measurable next to the data it holds.
 *
 * Called by the worker after every job that moved data (workers.ts), and inside a restore of a
 * set, which is one job for all volumes, before each volume's extraction and each volume's safety
 * backup (restore-set.ts; a single-path restore before its safety backup). With it the 4 GiB
 * restore with safety backup peaked at 137 MiB instead of 154-165.
 *
 * One macrotask between the collection and the trim: V8 may free the collected ArrayBuffers'
 * memory a moment after `gc()` returns. Returns the RSS before and after, for the log.
 */
export async function releaseFreedMemory(): Promise<{ rssBefore: number; rssAfter: number; trimmed: boolean | undefined }> {
  const rssBefore = process.memoryUsage.rss();
  exposedGc()?.();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const trimmed = trimMalloc();
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed };
}

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
 * One full collection now, between two phases of a job that each turn over a lot of buffers (a
 * restore's extraction, then its safety backup): the first phase's dead Buffers go back to malloc
 * before the second allocates, so it reuses their memory instead of adding to it.
 */
export function collectBetweenPhases(): void {
  exposedGc()?.();
}

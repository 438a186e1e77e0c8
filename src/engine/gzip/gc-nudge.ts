/**
 * Keeps the garbage of large buffers from piling up.
 *
 * gzip and gunzip in Node allocate a fresh output Buffer per chunk (zlib has no API to reuse one),
 * so an archive or restore turns its whole data volume over in buffers that live a few
 * milliseconds. While they are in use, V8's frequent minor collections move them to the old
 * generation, and V8 runs a full collection for them only after ~64 MB have accumulated: close to
 * half of our memory budget (measured: 153-158 MB peak RSS restoring the 20,000-file volume). So
 * every 8 MiB of turnover we look at the memory held by ArrayBuffers and run a full collection when
 * it exceeds 40 MiB: with our small heap 5-10 ms about every 30-40 MiB processed (0.1-0.3 s per GiB
 * on 2 busy cores), for a peak of ~110 MB that no longer depends on V8's heuristics.
 *
 * Needs the `gc` function, which V8 only exposes with --expose-gc. We turn that flag on for new
 * contexts and take `gc` from one: that changes no collector behaviour, it only makes the function
 * callable. Where that is not possible, the nudge does nothing and V8's own heuristics apply.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFunction = () => void;

let gcFn: GcFunction | null | undefined;

function getGc(): GcFunction | null {
  if (gcFn !== undefined) return gcFn;
  const existing = (globalThis as { gc?: GcFunction }).gc;
  if (typeof existing === 'function') return (gcFn = existing);
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc') as unknown;
    gcFn = typeof fn === 'function' ? (fn as GcFunction) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/**
 * Call the returned function with the size of every large buffer that is done with. Every `every`
 * bytes it checks the memory of all ArrayBuffers (Buffers) and runs a full, synchronous collection
 * when that exceeds `limit`. (Called without options: `gc({ type: 'major' })` leaves the freeing
 * of ArrayBuffer memory to a background task, which on busy cores comes much later.)
 */
export function gcNudger(every = 8 * 1024 * 1024, limit = 40 * 1024 * 1024): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    if (process.memoryUsage().arrayBuffers <= limit) return;
    const gc = getGc();
    if (!gc) return;
    try {
      gc();
    } catch {
      gcFn = null;
    }
  };
}

/**
 * How every process that runs jobs is started (npm start's worker child, `npm run start:worker`,
 * the worker containers of docker-compose.yaml, the tests' and the bench's workers), in one place.
 * deploy-files.test.ts holds package.json and docker-compose.yaml against these values.
 *
 * Why (issue 13, peak RSS ≤ 150 MB; BENCHMARKS.md has the figures):
 * - `--expose-gc` lets the engine collect its buffers' garbage early (src/engine/gzip/gc-nudge.ts).
 * - `--max-semi-space-size=2` (MiB): V8's young generation otherwise grows to 16 MiB per semi-space,
 *   ~25 MB of a worker's RSS that an archive's few long-lived objects never need (its data lives in
 *   Buffers outside the heap). Measured on the 300 MiB bench set: the same CPU time, 8-30 MB less.
 * - `MALLOC_ARENA_MAX=2`: zlib runs on libuv's threads, and glibc gives each thread a malloc arena
 *   of its own that keeps freed memory; with two arenas a restore after an archive peaked at 129 MB
 *   instead of 148 MB. An admin's own MALLOC_ARENA_MAX wins.
 * Tried and not kept: `MALLOC_MMAP_THRESHOLD_` (blocks above it mapped and unmapped on their own,
 * so a worker gives memory back between jobs). 1000 MiB set: peaks 134-140 MB instead of 142-154,
 * but the verification took 10.0 s instead of 5.2 s and the extraction 1.5× as long (page faults
 * of ever new mappings); at 1 MiB (300 MiB set) still 45 % slower verification. BENCHMARKS.md.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--expose-gc', '--max-semi-space-size=2'];

export const WORKER_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** `base` with the worker's flags added where missing (the parent's own flags, e.g. tsx's loader, kept). */
export function workerExecArgv(base: readonly string[]): string[] {
  const names = new Set(base.map((a) => a.split('=')[0]));
  return [...base, ...WORKER_NODE_FLAGS.filter((f) => !names.has(f.split('=')[0]))];
}

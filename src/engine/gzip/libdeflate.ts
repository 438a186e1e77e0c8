/**
 * libdeflate (native/libdeflate, a small N-API binding built by `npm ci`) inflates our archives'
 * gzip members: it works on whole buffers, which is what an indexed member is (gzip-members.ts:
 * its lengths are known before it is read), and inflates about twice as fast as zlib on the
 * benchmark's data (BENCHMARKS.md). It checks each member's CRC-32 and length like zlib does.
 *
 * Compression stays with zlib: Node's zlib makes smaller members than libdeflate at every level
 * up to libdeflate's 9 on database pages (measured on the benchmark's data), and "no larger than
 * today's archives" is a rule.
 *
 * The binding is optional: without it (built without libdeflate-dev, say) every member is inflated
 * by zlib, with the same results and errors, and the worker logs why at its start. GZIP_INFLATE
 * chooses: `auto` (libdeflate when built), `libdeflate` (refuse to start without it), `zlib`.
 */
import { loadBinding } from '../native-binding.js';
import { GzipDataError } from './gzip-members.js';

interface Binding {
  gzipDecompress(member: Buffer, output: Buffer): Promise<void>;
  /** glibc's malloc_trim(0); undefined on another C library. Missing in a build older than this file. */
  mallocTrim?: () => boolean | undefined;
  version: string;
}

export type InflateEngineChoice = 'auto' | 'libdeflate' | 'zlib';

/** Where the build puts the binding, from the project's root (the Docker image's /app). */
export const BINDING = 'native/libdeflate/build/Release/oob_libdeflate.node';

let loaded: { binding?: Binding; error?: string } | undefined;
let choice: InflateEngineChoice = 'auto';

function load(): { binding?: Binding; error?: string } {
  loaded ??= loadBinding<Binding>(BINDING);
  return loaded;
}

/**
 * Which inflater the process uses (the worker sets it from GZIP_INFLATE at its start). Throws for
 * `libdeflate` when the binding cannot be loaded.
 */
export function chooseInflateEngine(c: InflateEngineChoice): void {
  if (c === 'libdeflate' && !load().binding) throw new Error(`GZIP_INFLATE=libdeflate, but the libdeflate binding cannot be loaded: ${load().error}`);
  choice = c;
}

/** The inflater in use, with its version or why libdeflate is not used. */
export function inflateEngine(): { name: 'libdeflate'; version: string } | { name: 'zlib'; why: string } {
  if (choice === 'zlib') return { name: 'zlib', why: 'GZIP_INFLATE=zlib' };
  const { binding, error } = load();
  return binding ? { name: 'libdeflate', version: binding.version } : { name: 'zlib', why: `the libdeflate binding is not built (${error})` };
}

/** libdeflate's member inflater when it is the one in use, else undefined (use zlib). */
export function libdeflateInflater(): ((member: Buffer, rawLength: number) => Promise<Buffer>) | undefined {
  if (choice === 'zlib') return undefined;
  const binding = load().binding;
  if (!binding) return undefined;
  return async (member, rawLength) => {
    const out = Buffer.allocUnsafe(rawLength);
    try {
      await binding.gzipDecompress(member, out);
    } catch (err) {
      // Damaged data is a GzipDataError like zlib's; anything else (out of memory) is not the archive's fault.
      if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR') throw new GzipDataError((err as Error).message, 'Z_DATA_ERROR', { cause: err });
      throw err;
    }
    return out;
  };
}

/**
 * glibc's `malloc_trim(0)` through the same binding (releaseFreedMemory in gc-nudge.ts says why):
 * true when it gave memory back, false when there was none to give, undefined without the binding
 * or without glibc. Independent of GZIP_INFLATE.
 */
export function trimMalloc(): boolean | undefined {
  return load().binding?.mallocTrim?.();
}

/**
 * The paths a single-file restore names (binary strings, one char per byte), checked where they
 * meet the file system even though the API checked them: normalized paths inside the volume, none
 * inside another chosen one. The request record could have been altered in Redis.
 */
import { quoteName } from './show-name.js';

/** Why the paths cannot be restored, or undefined. */
export function chosenPathsProblem(paths: readonly string[]): string | undefined {
  if (paths.length === 0) return 'the request names no paths';
  for (const p of paths) {
    if (p === '' || p.includes('\0') || p.startsWith('/') || p.split('/').some((c) => c === '' || c === '.' || c === '..')) {
      return `the request names the path ${quoteName(p)}, which is not a normalized path inside the volume`;
    }
    if (paths.some((o) => o !== p && p.startsWith(`${o}/`))) return `the request names ${quoteName(p)} and a folder above it`;
  }
  return undefined;
}

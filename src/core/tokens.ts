import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two secrets (hashed first, so their lengths leak nothing). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

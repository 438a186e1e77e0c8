/** Throttled progress reporting for long jobs: at most one report per interval, plus the final one. */
import type { Logger } from 'pino';

export function progressReporter<P extends object>(
  cb: ((p: P) => void) | undefined,
  intervalMs: number | undefined,
  log: Logger,
): (p: P, final?: boolean) => void {
  const interval = intervalMs ?? 500;
  let last = -Infinity;
  return (p, final = false) => {
    if (!cb) return;
    const now = Date.now();
    if (!final && now - last < interval) return;
    last = now;
    try {
      cb({ ...p });
    } catch (err) {
      // A broken progress sink (e.g. queue connection) must not cost us the backup.
      log.warn({ err: (err as Error).message }, 'progress callback failed');
    }
  };
}

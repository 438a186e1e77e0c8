/** One pino logger for the process; modules take a child with their own `module` field. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * While Redis restarts, every queue and worker reports every failed command; one line per source
 * and interval is enough to see the outage, and one line says when it is over.
 */
export function rateLimitedWarn(logger: Logger, msg: string, intervalMs = 10_000): (err: Error, fields?: Record<string, unknown>) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (err, fields = {}) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn({ ...fields, err: err.message, suppressed }, msg);
    last = now;
    suppressed = 0;
  };
}

/**
 * Where "now" comes from: the run stamps ("run now", catch-up, safety backups), the overdue check,
 * the schedule's next runs and the restore requests' expiry all ask a Clock, never `new Date()`.
 * The process's clock is made in src/runtime/clock.ts (the system time; a test process may be given
 * a fixed or moved one) and handed down through the context. Timers of BullMQ and Redis (delays,
 * schedulers, locks, TTLs) keep the real time: the clock says what time the service believes it
 * is, not when timers fire.
 */
export interface Clock {
  now(): Date;
  /** Resolves once `now()` has reached `t` (at once when it has). */
  sleepUntil(t: Date): Promise<void>;
}

/** The start of the minute after `t` (run stamps are minutes). */
export function nextMinute(t: Date): Date {
  return new Date(Math.floor(t.getTime() / 60_000) * 60_000 + 60_000);
}

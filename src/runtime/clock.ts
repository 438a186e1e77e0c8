/**
 * The process's clock (see ../core/clock.ts). Production reads the system time. A test process
 * (NODE_ENV=test; config.ts reads OOB_TEST_CLOCK into testHooks.clock) may be given another:
 *   - an instant, `2030-06-12T10:20:30+02:00`: the time stands still there;
 *   - an offset in milliseconds, `+90000` or `-3600000`: the real time, moved;
 *   - `file:<path>`: one of the two read from that file at every call, so that a test moves the
 *     service's time by rewriting the file (atomically: write a temp file, rename).
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';

export const systemClock: Clock = {
  now: () => new Date(),
  sleepUntil: (t) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t.getTime() - Date.now()))),
};

/** How often a test clock looks whether its time has come. */
const POLL_MS = 20;

/** The clock a spec describes (undefined: the system clock); throws an Error naming what is wrong. */
export function clockFor(spec: string | undefined): Clock {
  if (spec === undefined) return systemClock;
  const file = spec.startsWith('file:') ? spec.slice('file:'.length) : undefined;
  const read = file === undefined ? () => spec : () => readFileSync(file, 'utf8').trim();
  const parse = (s: string): Date => {
    if (/^[+-]\d+$/.test(s)) return new Date(Date.now() + Number(s));
    const t = Date.parse(s);
    if (!/^\d{4}-\d\d-\d\dT/.test(s) || Number.isNaN(t)) {
      throw new Error(`expected an ISO instant (2030-06-12T10:20:30Z), an offset in ms (+90000), or file:<path> holding one; got "${s}"${file ? ` in ${file}` : ''}`);
    }
    return new Date(t);
  };
  parse(read()); // a bad spec fails at start-up, not at the first stamp
  const now = () => parse(read());
  return {
    now,
    async sleepUntil(t) {
      while (now().getTime() < t.getTime()) await new Promise((r) => setTimeout(r, POLL_MS));
    },
  };
}

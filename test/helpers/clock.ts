/**
 * The time of a service under test, moved by the test instead of waited for: the service reads it
 * from a file (OOB_TEST_CLOCK=file:<path>, honoured with NODE_ENV=test, see src/runtime/clock.ts)
 * for its run stamps, catch-up and overdue checks, safety-backup stamps and restore expiry.
 */
import { rename, writeFile } from 'node:fs/promises';
import { formatStamp } from '../../src/core/names.js';

/** A Wednesday morning, in the middle of a minute; stamp 2030-06-12-1020 in Zurich. */
export const TEST_START = '2030-06-12T10:20:30+02:00';
const TZ = 'Europe/Zurich';

export class TestClock {
  private t: Date;
  private constructor(
    readonly file: string,
    start: Date,
  ) {
    this.t = start;
  }

  static async create(file: string, start: string | Date = TEST_START): Promise<TestClock> {
    const c = new TestClock(file, new Date(start));
    await c.set(c.t);
    return c;
  }

  /** What a service process needs to read this clock. */
  get env(): Record<string, string> {
    return { NODE_ENV: 'test', OOB_TEST_CLOCK: `file:${this.file}` };
  }

  now(): Date {
    return new Date(this.t);
  }

  /** The stamp of a run started now. */
  stamp(): string {
    return formatStamp(this.t, TZ);
  }

  /** Sets the time; written atomically, so the service never reads half a file. */
  async set(t: string | Date): Promise<void> {
    this.t = new Date(t);
    await writeFile(`${this.file}.tmp`, `${this.t.toISOString()}\n`);
    await rename(`${this.file}.tmp`, this.file);
  }

  async advance(ms: number): Promise<void> {
    await this.set(new Date(this.t.getTime() + ms));
  }
}

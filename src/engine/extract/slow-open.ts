/**
 * When creating files is slow, writer threads take over the small files of a restore
 * (extract-writers.ts). This decides when: the main thread times its own open() of new small
 * files in windows of FILES_PER_CHECK, and two slow windows in a row mean "slow".
 *
 * Measured on this project's 2-core test machine (20,000 documents): open() of a new file takes
 * 13-16 us on average on a quiet ext4 (there the threads are ~10 % slower than the main thread
 * alone) and several hundred us when ext4 without a journal skips recently deleted inodes (there
 * they are 25-50 % faster). One window can reach 60-130 us on a quiet file system (a journal
 * commit), hence two windows in a row.
 */
export const SLOW_OPEN_MICROS = 50;
export const FILES_PER_CHECK = 256;

export class SlowOpenDetector {
  private opens = 0;
  private ms = 0;
  private slowWindows = 0;

  constructor(private readonly thresholdMicros: number = SLOW_OPEN_MICROS) {}

  /** One timed open(); returns the window's average in microseconds when it decided "slow". */
  record(ms: number): number | undefined {
    this.opens++;
    this.ms += ms;
    if (this.opens < FILES_PER_CHECK) return undefined;
    const micros = (this.ms * 1000) / this.opens;
    this.opens = 0;
    this.ms = 0;
    this.slowWindows = micros > this.thresholdMicros ? this.slowWindows + 1 : 0;
    return this.slowWindows >= 2 ? micros : undefined;
  }
}

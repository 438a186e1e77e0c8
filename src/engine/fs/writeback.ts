/**
 * Starts the kernel writing a large extraction to disk while it is still being extracted.
 *
 * Why: a restore flushes its staging directory (`sync -f`) before it swaps, and waits for that.
 * With the RAM of a server, the kernel starts writing dirty pages on its own only after 30 s or
 * once 10 % of memory is dirty, so without help the whole restore is written during that one
 * flush, while the disk idled during the extraction. `sync -f <dir>` every EVERY_BYTES of
 * extracted data (at most one at a time, in a child process, so nothing blocks the extraction)
 * overlaps the disk's work with decompression. Measured (every 64 MiB) on a journaled ext4 (BENCHMARKS.md):
 * database, PACS and documents of the 1000 MiB bench set extracted and flushed in 4.9-5.1 s
 * instead of 5.4-6.3 s; the final flush 0.2-0.5 s instead of 1.3-1.9 s.
 *
 * Each flush has a fixed cost besides the writing: `syncfs` commits the journal and asks the disk
 * to empty its cache, and the extraction's own writes slow down meanwhile. How much depends on the
 * disk: on the Intel machine a flush every 64 MiB took the whole restore from 0.85-0.90× to
 * 1.03-1.17× `tar -xzf`; on the AMD machine (a disk that writes 1 GB in 1.2 s but flushes dearly)
 * the same made it 1.8-2.2 s slower than no early flush at all (10.9 s against 8.7-9.1 s; every
 * 256 MiB: 10.0-10.4 s). The default, every 256 MiB, keeps the disk busy during a large restore with a quarter of
 * the flushes; RESTORE_WRITEBACK_MIB sets it (0: none, the swap's flush writes everything).
 *
 * A flush that fails or cannot start (no `sync`) only stops the next ones: the durability that
 * counts is the swap's own flush, which does not depend on these.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const execFileP = promisify(execFile);

/** `sync -f <dir>` (coreutils): syncfs of the file system `dir` is on; rejects when it fails. */
export async function syncFileSystemOf(dir: string): Promise<void> {
  await execFileP('sync', ['-f', dir]);
}

/** Default distance between two flushes, in extracted bytes. */
export const WRITEBACK_EVERY_BYTES = 256 * 1024 * 1024;

export class WritebackStarter {
  private running: Promise<void> | undefined;
  private lastAt = 0;
  private off: boolean;

  /** `everyBytes` 0: never flushes. */
  constructor(
    private readonly dir: string,
    private readonly everyBytes: number,
    private readonly logger: Logger,
  ) {
    this.off = everyBytes <= 0;
  }

  /** `written`: bytes extracted so far. Starts a flush when EVERY_BYTES more were written since the last one and none runs. */
  progress(written: number): void {
    if (this.off || this.running || written - this.lastAt < this.everyBytes) return;
    this.lastAt = written;
    this.running = syncFileSystemOf(this.dir)
      .catch((err: Error) => {
        this.off = true;
        this.logger.debug({ dir: this.dir, err: err.message }, 'writeback: sync -f failed; no more early flushes for this extraction');
      })
      .finally(() => (this.running = undefined));
  }

  /** Resolves when no flush of ours runs any more (none outlives the extraction). */
  async settle(): Promise<void> {
    this.off = true;
    await this.running;
  }
}

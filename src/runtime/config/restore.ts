/** Restores: how long a request waits for its confirmation, what space it needs, how it writes. */
import { WRITEBACK_EVERY_BYTES } from '../../engine/fs/writeback.js';
import { decimal, integer, seconds } from './variables.js';

export const restore = {
  title: 'Restores',
  variables: {
    RESTORE_CONFIRM_TTL: seconds({ min: 1, max: 86_400, default: 600, doc: 'seconds a restore request waits for its confirmation' }),
    RESTORE_SPACE_RATIO: decimal({
      min: 1,
      max: 100,
      default: 3,
      doc: 'free space a restore needs in the volume, × archive size, when no manifest tells the real size',
    }),
    // The default depends on the machine (config-from-env.ts): 2 where there are 2 cores or more
    // (BENCHMARKS.md, "Restore of many small files").
    RESTORE_THREADS: integer({
      min: 0,
      max: 8,
      envExample: true,
      defaultText: '`2` (`0` on 1 core)',
      doc: 'writer threads a restore (and a verify\'s test extraction) starts for small files once creating files proves slow (its `open()` calls average > 50 µs); `0` writes everything on the job\'s own thread',
    }),
    // Why an interval and why this default: src/engine/fs/writeback.ts and BENCHMARKS.md.
    RESTORE_WRITEBACK_MIB: integer({
      min: 0,
      max: 65_536,
      default: WRITEBACK_EVERY_BYTES / (1024 * 1024),
      envExample: true,
      doc: 'MiB a restore extracts between two flushes (`sync -f`) of its staging directory, so that the disk writes while it extracts; `0`: one flush before the swap only (best where flushes are dear and the disk is fast)',
    }),
  },
};

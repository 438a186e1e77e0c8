/** How a worker process runs archive jobs: how many at once, how nicely, how compressed, how it notices a crash. */
import { RECOMMENDED_GZIP_LEVEL } from '../../engine/gzip/parallel-gzip.js';
import { flag, integer, oneOf, seconds } from './variables.js';

export const workers = {
  title: 'Workers and archives',
  variables: {
    WORKER_CONCURRENCY: integer({ min: 1, max: 64, default: 1, envExample: true, doc: 'archive/prune jobs one worker process runs at once' }),
    WORKER_NICE: integer({
      min: 0,
      max: 19,
      default: 10,
      envExample: true,
      doc: 'CPU priority (nice 0–19) of a `start:worker` process and what it starts (gzip threads, `mariadb-dump`): a nightly backup yields to MariaDB, Elexis and the API; also `npm start`\'s worker child (its API process is not reniced)',
    }),
    // 5, not gzip's 6: within 1 % of gzip -6 on practice data and ~15 % faster (BENCHMARKS.md).
    GZIP_LEVEL: integer({
      min: 0,
      max: 9,
      default: RECOMMENDED_GZIP_LEVEL,
      doc: '0–9; 5 is within 1 % of `gzip -6` on practice data and ~15 % faster (see BENCHMARKS.md)',
    }),
    GZIP_INFLATE: oneOf(['auto', 'libdeflate', 'zlib'] as const, {
      default: 'auto',
      doc: 'what inflates our archives\' gzip members on restore and verification: `auto` = libdeflate when its binding was built (about twice as fast), else zlib; `libdeflate` = refuse to start without it; `zlib`',
    }),
    GZIP_PARALLEL: flag({ default: true, doc: 'compress on all cores (multi-member gzip); `0` = one sequential gzip stream' }),
    ARCHIVE_ATTEMPTS: integer({ min: 1, max: 20, default: 3, doc: 'attempts per archive job (exponential backoff from 10 s)' }),
    VERIFY_EXTRACT: flag({ default: false, doc: 'verification also test-extracts into a temp dir in `BACKUP_DIR`' }),
    SHUTDOWN_TIMEOUT: seconds({ min: 1, max: 3600, default: 30, doc: 'seconds SIGTERM waits for running jobs before handing them back' }),
    LOCK_DURATION: seconds({
      min: 1,
      max: 3600,
      default: 60,
      doc: 'seconds a job\'s lock lasts; a worker renews it every half, and a killed worker\'s job stalls after it expires (see "Crash recovery")',
    }),
    STALLED_INTERVAL: seconds({ min: 1, max: 3600, default: 30, doc: 'seconds between the workers\' looks for stalled jobs, which they hand to a live worker' }),
    VOLUME_LOCK_TTL: seconds({
      min: 2,
      max: 3600,
      default: 60,
      doc: 'seconds a per-volume lock lives; renewed every third while held, so it frees this long after a `kill -9`',
    }),
  },
};

/**
 * Queue names, job payloads and the one place queues are opened. Separate queues keep the dashboard
 * readable and let concurrency differ per kind: `schedule` (the schedulers' run and verify jobs),
 * `archive` (one job per volume and run), `dump` (the logical database dump of a run), `verify`
 * (re-reading a written archive), `prune` (the parent of each verify job), `copy` (an archive to one off-site target), `restore` (confirmed
 * restores, one at a time) and `alerts` (webhook deliveries, see notifier.ts).
 */
import { FlowProducer, Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ArchiveKind } from '../core/names.js';

export const QUEUE_NAMES = ['schedule', 'archive', 'dump', 'verify', 'prune', 'copy', 'restore', 'alerts'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** The id of the one job scheduler that fires backup runs. */
export const RUN_SCHEDULER_ID = 'backup-run';
/** The id of the job scheduler that verifies the newest set. */
export const VERIFY_SCHEDULER_ID = 'verify-newest';

export type RunTrigger = 'schedule' | 'manual' | 'catch-up';

export interface RunJobData {
  trigger: RunTrigger;
  /** Set by a late run job before it starts its run, so that a retry makes the same set. */
  lateStamp?: string;
}

export interface ArchiveJobData {
  volume: string;
  stamp: string;
  trigger: RunTrigger;
  /** A late or catch-up run: the missed tick it stands in for; written into the manifest. */
  catchUpFor?: string;
}

export interface DumpJobData {
  /** The dump's name in the naming scheme, e.g. elexisdb-sql. */
  volume: string;
  stamp: string;
  trigger: RunTrigger;
  catchUpFor?: string;
}

export interface VerifyJobData {
  volume: string;
  stamp: string;
  file: string;
  kind: ArchiveKind;
}

export interface PruneJobData {
  volume: string;
  stamp: string;
  /**
   * Ignored (jobs queued by earlier versions carry it): prune reads `keep` from the stored schedule
   * when it runs, so a job edited or added in bull-board cannot choose how much is deleted.
   */
  keep?: number;
  kind: ArchiveKind;
}

export interface CopyJobData {
  volume: string;
  stamp: string;
  file: string;
  kind: ArchiveKind;
  /** rclone `remote:path`, one of OFFSITE_TARGETS. */
  target: string;
  /**
   * Look on the target first (queued by the rebuild after Redis lost its records, jobs/copy-rebuild.ts):
   * a complete copy that matches the archive is recorded without uploading. Forged, it costs a look.
   */
  find?: boolean;
}

/** Name of the restore-hold lock a running restore takes. */
export const RESTORE_HOLD = 'active';

export interface RestoreJobData {
  restoreId: string;
}

export type Queues = Record<QueueName, Queue> & { flow: FlowProducer; close(): Promise<void> };

/** FlowProducer ignores a queue's defaultJobOptions, so flow jobs spread KEEP_HISTORY themselves. */
export const KEEP_HISTORY: DefaultJobOptions = {
  // Enough history for the main screen and the dashboard, bounded so Redis does not grow forever.
  removeOnComplete: { age: 30 * 24 * 3600, count: 2000 },
  removeOnFail: { age: 90 * 24 * 3600, count: 2000 },
};

/**
 * `onError` receives connection errors (Redis restarting); without a listener BullMQ prints a stack
 * trace per failed command. The caller logs them, rate-limited.
 */
export function openQueues(connection: Redis, prefix: string, onError: (err: Error) => void = () => {}): Queues {
  const open = (name: QueueName) => {
    const q = new Queue(name, { connection, prefix, defaultJobOptions: KEEP_HISTORY });
    q.on('error', onError);
    return q;
  };
  const queues = {
    schedule: open('schedule'),
    archive: open('archive'),
    dump: open('dump'),
    verify: open('verify'),
    prune: open('prune'),
    copy: open('copy'),
    restore: open('restore'),
    alerts: open('alerts'),
    flow: new FlowProducer({ connection, prefix }),
  };
  queues.flow.on('error', onError);
  return {
    ...queues,
    async close() {
      await Promise.all([...QUEUE_NAMES.map((n) => queues[n].close()), queues.flow.close()]);
    },
  };
}

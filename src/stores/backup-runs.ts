/**
 * Starting a backup run: claim the run's stamp, then fan out one flow per volume (and one for the
 * database dump): prune ← verify ← archive. BullMQ runs a parent only after all its children
 * completed, and `failParentOnFailure` fails the parent when a child fails for good, so a volume is
 * never pruned after a failed archive, nor after an archive that does not read back. Used by the
 * scheduled run job (worker) and by "run now" (API).
 */
import type { Redis } from 'ioredis';
import { archiveFileName, dumpFileName, type ArchiveKind } from '../core/names.js';
import type { BackupStore } from './backup-store.js';
import type { FlowJob } from 'bullmq';
import { KEEP_HISTORY, type ArchiveJobData, type DumpJobData, type PruneJobData, type Queues, type RunTrigger, type VerifyJobData } from './queues.js';

export class RunConflictError extends Error {
  readonly code = 'run_exists';
  constructor(readonly stamp: string) {
    super(`a backup set for ${stamp} already exists or is being made; try again in the next minute`);
  }
}

export interface RunRequest {
  stamp: string;
  /** Volume name → directory, already resolved and validated by the caller. */
  volumes: Record<string, string>;
  trigger: RunTrigger;
  /** The logical dump's name when a database is configured (DB_HOST); it gets its own flow. */
  dumpName?: string;
  /** Who claims the stamp: the run job's id, or a random id for "run now". */
  owner: string;
  /** For a late or catch-up run: the missed tick it stands in for (recorded in each manifest). */
  catchUpFor?: string;
}

export interface RunJobs {
  stamp: string;
  jobs: { volume: string; kind: ArchiveKind; file: string; archiveJobId: string; verifyJobId: string; pruneJobId: string }[];
}

export interface RunDeps {
  redis: Redis;
  prefix: string;
  queues: Queues;
  store: BackupStore;
  archiveAttempts: number;
}

/** Claims live a week; after that the archives on disk are what refuses a second run. */
const CLAIM_TTL_S = 7 * 24 * 3600;

/** Claims a stamp for one owner: 'new', 'mine' (claimed by the same owner before) or 'taken'. */
export async function claimStamp(redis: Redis, prefix: string, stamp: string, owner: string): Promise<'new' | 'mine' | 'taken'> {
  return claim(redis, `${prefix}:oob-run:${stamp}`, owner);
}

/** Whether a run (or a restore's safety backup) claimed `stamp` within the claims' lifetime. */
export async function isRunClaimed(redis: Redis, prefix: string, stamp: string): Promise<boolean> {
  return (await redis.exists(`${prefix}:oob-run:${stamp}`)) === 1;
}

/**
 * Claims a scheduler tick: one run per tick. The run stamp claim cannot do that for late runs,
 * whose stamp is the minute they run: the scheduler's overdue job and the catch-up at start-up
 * may stand in for the same missed tick in different minutes.
 */
export async function claimTick(redis: Redis, prefix: string, tick: string, owner: string): Promise<'new' | 'mine' | 'taken'> {
  return claim(redis, `${prefix}:oob-tick:${tick}`, owner);
}

async function claim(redis: Redis, key: string, owner: string): Promise<'new' | 'mine' | 'taken'> {
  if ((await redis.set(key, owner, 'EX', CLAIM_TTL_S, 'NX')) === 'OK') return 'new';
  return (await redis.get(key)) === owner ? 'mine' : 'taken';
}

export async function startRun(deps: RunDeps, req: RunRequest): Promise<RunJobs> {
  // SET NX makes the claim atomic across API and worker processes: two "run now" clicks, or a
  // click at the scheduled minute, cannot both start a set for the same minute. The owner lets a
  // retried run job (its worker died after claiming) add its flows again: job ids make that idempotent.
  const claim = await claimStamp(deps.redis, deps.prefix, req.stamp, req.owner);
  if (claim === 'taken' || (claim === 'new' && (await deps.store.hasSet(req.stamp)))) throw new RunConflictError(req.stamp);

  const items: [string, ArchiveKind][] = Object.keys(req.volumes).sort().map((v) => [v, 'volume']);
  if (req.dumpName) items.push([req.dumpName, 'sql']);
  const flows = items.map(([volume, kind]) => ({ volume, kind, ...backupFlow(volume, kind, req, deps.archiveAttempts) }));
  // All flows in one Redis transaction: one round trip, and no half-added run if the process dies.
  await deps.queues.flow.addBulk(flows.map((f) => f.root));
  const jobs: RunJobs['jobs'] = flows.map((f) => ({
    volume: f.volume,
    kind: f.kind,
    file: f.file,
    archiveJobId: f.ids.archive,
    verifyJobId: f.ids.verify,
    pruneJobId: f.ids.prune,
  }));
  return { stamp: req.stamp, jobs };
}

/** prune ← verify ← archive (or dump); job ids are deterministic, so adding a flow twice is a no-op. */
function backupFlow(volume: string, kind: ArchiveKind, req: RunRequest, attempts: number) {
  const file = kind === 'sql' ? dumpFileName(volume, req.stamp) : archiveFileName(volume, req.stamp);
  const ids = {
    archive: `${kind === 'sql' ? 'dump' : 'archive'}-${volume}-${req.stamp}`,
    verify: `verify-${volume}-${req.stamp}`,
    prune: `prune-${volume}-${req.stamp}`,
  };
  const retry = { ...KEEP_HISTORY, backoff: { type: 'exponential', delay: 10_000 } };
  const make: ArchiveJobData | DumpJobData = { volume, stamp: req.stamp, trigger: req.trigger, ...(req.catchUpFor ? { catchUpFor: req.catchUpFor } : {}) };
  const verify: VerifyJobData = { volume, stamp: req.stamp, file, kind };
  const prune: PruneJobData = { volume, stamp: req.stamp, kind };
  const root: FlowJob = {
    name: 'prune',
    queueName: 'prune',
    data: prune,
    opts: { ...retry, jobId: ids.prune, attempts: 3 },
    children: [
      {
        name: 'verify',
        queueName: 'verify',
        data: verify,
        opts: { ...retry, jobId: ids.verify, attempts: 2, failParentOnFailure: true },
        children: [
          {
            name: kind === 'sql' ? 'dump' : 'archive',
            queueName: kind === 'sql' ? 'dump' : 'archive',
            data: make,
            opts: { ...retry, jobId: ids.archive, attempts, failParentOnFailure: true },
          },
        ],
      },
    ],
  };
  return { root, file, ids };
}

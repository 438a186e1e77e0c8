/**
 * What the API answers, as zod schemas: only the OpenAPI document (../openapi.ts) uses them, and
 * the integration tests validate real answers against that document. Loose objects where an answer
 * may carry more than the contract promises (a job's data), strict where the shape is all there is.
 */
import { z } from 'zod';

const isoTime = z.string().meta({ description: 'ISO 8601 instant', example: '2026-11-21T02:15:00.000Z' });
const warning = z.strictObject({ de: z.string(), en: z.string() }).meta({ id: 'RestoreWarning', description: 'what the restore will do, in German and English' });

export const errorAnswer = z
  .strictObject({
    error: z.looseObject({
      code: z.string().meta({ description: 'stable key, e.g. invalid_request, not_found, unauthorized' }),
      message: z.string().meta({ description: 'what went wrong, for a person' }),
      field: z.string().optional().meta({ description: 'the input that is wrong (body field, query parameter, path)' }),
    }),
  })
  .meta({ id: 'Error' });

const cronView = {
  minute: z.string(),
  hour: z.string(),
  day: z.string(),
  month: z.string(),
  weekday: z.string(),
  timezone: z.string(),
  enabled: z.boolean(),
  cron: z.string(),
  nextRuns: z.array(isoTime),
};

export const scheduleAnswer = z
  .looseObject({ ...cronView, keep: z.int(), localRetention: z.string().nullable().optional(), problem: z.string().nullable().optional(), paused: z.array(z.string()).optional() })
  .meta({ id: 'Schedule' });
export const verifyScheduleAnswer = z.looseObject(cronView).meta({ id: 'VerifySchedule' });

const archive = z
  .looseObject({
    volume: z.string(),
    stamp: z.string(),
    file: z.string(),
    kind: z.enum(['volume', 'sql']),
    size: z.int(),
    sha256: z.string().nullable(),
    verified: z.looseObject({ ok: z.boolean(), at: z.string(), error: z.string().optional() }).nullable(),
    sizeDrop: z.looseObject({ previousFile: z.string(), previousSize: z.number(), ratio: z.number() }).nullable(),
    origin: z.enum(['oob-backup', 'external']),
    catchUpFor: z.string().nullable(),
    safetyFor: z.string().nullable().meta({ description: 'a safety backup: the id of the restore that replaced this data right after; not one of the keep generations' }),
    warnings: z.int().meta({ description: 'entries skipped or changed while archived (vanished, shrank, a socket); 0 without a manifest' }),
    warningMessages: z.array(z.string()).meta({ description: 'the first of those warnings, names escaped' }),
    incremental: z.boolean().meta({ description: 'a listed-incremental archive (.inc.tar.gz), restorable with the files of basedOn' }),
    level: z.int().meta({ description: '0 for a full, 1, 2, … for the incrementals of a chain' }),
    basedOn: z.array(z.string()).meta({ description: 'the files a restore of this archive reads before it, the full first' }),
    chainProblem: z.string().optional().meta({ description: 'an incremental that is no restorable point: a base of it failed its verification or is gone' }),
  })
  .meta({ id: 'Archive' });


const copy = z.looseObject({
  target: z.string(),
  file: z.string().meta({ description: 'the object on the target (<file>.age when encrypted)' }),
  size: z.number(),
  sha256: z.string().nullable(),
  copiedAt: z.string(),
  verifiedAt: z.string().nullable(),
});

/** An archive known only from the off-site targets (its local sizes and checks do not exist here). */
const remoteArchive = z
  .looseObject({
    volume: z.string(),
    kind: z.enum(['volume', 'sql']),
    stamp: z.string(),
    file: z.string(),
    remote: z.literal(true),
    copies: z.array(copy),
  })
  .meta({ id: 'RemoteArchive' });

const localSet = z
  .looseObject({
    stamp: z.string(),
    createdAt: isoTime,
    catchUpFor: z.string().nullable(),
    archives: z.array(
      z.union([archive.extend({ copies: z.array(copy).optional().meta({ description: 'off-site copies (with OFFSITE_TARGETS)' }) }), remoteArchive]).meta({
        description: 'the archives in BACKUP_DIR, and those of the set found only on an off-site target (remote: true)',
      }),
    ),
    restoreNeeds: z.array(z.string()).meta({ description: 'every file a restore of the whole set reads' }),
  })
  .meta({ id: 'BackupSet' });

const remoteSet = z
  .looseObject({ stamp: z.string(), createdAt: isoTime, catchUpFor: z.null(), remote: z.literal(true), archives: z.array(remoteArchive) })
  .meta({ id: 'RemoteBackupSet', description: 'a set found only on the off-site targets (restore it with from)' });

export const backupSet = z.union([localSet, remoteSet]);

export const volumeAnswer = z
  .strictObject({
    name: z.string(),
    kind: z.enum(['volume', 'sql']).meta({ description: 'sql: the logical dump of the database (with DB_HOST)' }),
    size: z.number().nullable().meta({ description: "the volume's file bytes (a walk, at most 5 minutes old); null for the dump or when it cannot be read" }),
    mode: z.enum(['full', 'incremental']).meta({ description: 'how its archives are made (issue 16); the dump is always full' }),
    fullEvery: z.int().nullable().meta({ description: 'incremental mode: a new full after this many archives of a chain; null for the dump' }),
    fullOn: z.int().nullable().meta({ description: 'incremental mode: the weekday (0-6, Sunday 0) whose first run makes a new full' }),
    lastArchive: archive.nullable().meta({ description: 'the newest archive; null when there is none' }),
    overdue: z
      .strictObject({ expectedBy: isoTime, lastSuccess: isoTime.nullable() })
      .nullable()
      .meta({ description: "the schedule's last tick (older than OVERDUE_GRACE) has no archive of this volume" }),
    unreachable: z.string().nullable().meta({ description: 'why the volume cannot be reached (its symlink leads nowhere: a disk not mounted?); its archives fail until it is back' }),
  })
  .meta({ id: 'Volume' });
export const volumesAnswer = z
  .strictObject({
    volumes: z.array(volumeAnswer),
    backupDir: z.strictObject({ freeBytes: z.int(), totalBytes: z.int() }).nullable().meta({ description: 'space on the disk of BACKUP_DIR' }),
  })
  .meta({ id: 'Volumes' });
export const backupSets = z.strictObject({ sets: z.array(backupSet) }).meta({ id: 'BackupSets' });
export const runStarted = z.looseObject({ stamp: z.string(), jobs: z.array(z.unknown()) }).meta({ id: 'RunStarted' });

export const entryType = z.enum(['file', 'directory', 'symlink', 'hardlink', 'other']);
export const archiveEntry = z
  .strictObject({
    name: z.string().meta({ description: 'the last component, for display (invalid UTF-8 shown as U+FFFD)' }),
    path: z.string().meta({ description: 'the path inside the volume, for display (lossy when not UTF-8)' }),
    key: z.string().meta({ description: 'base64url of the exact bytes of the path: what POST /api/restores takes in paths' }),
    type: entryType,
    size: z.int().meta({ description: 'content bytes of a file; 0 for anything else' }),
    mtime: isoTime.nullable().meta({ description: 'null for a directory the archive holds only through entries below it' }),
    linkTarget: z.string().nullable().meta({ description: 'symlink or hard link target, for display' }),
  })
  .meta({ id: 'ArchiveEntry' });
export const entriesAnswer = z
  .strictObject({
    stamp: z.string(),
    volume: z.string(),
    dir: z.string().meta({ description: 'the listed directory, for display ("" = the volume root)' }),
    dirKey: z.string().meta({ description: 'its key' }),
    parentKey: z.string().nullable().meta({ description: "the parent directory's key; null at the root" }),
    entries: z.array(archiveEntry).meta({ description: 'one directory level, sorted by the bytes of the name' }),
    nextCursor: z.string().nullable().meta({ description: 'opaque: give it as cursor for the next page of this listing; null on the last page' }),
    indexBuilt: z.boolean().meta({ description: "true: the archive had no (valid) entry index, and this answer read the whole archive to build it (once)" }),
  })
  .meta({ id: 'ArchiveEntries' });

export const restoreRequested = z
  .looseObject({
    id: z.string(),
    token: z.string().meta({ description: 'single-use confirmation token; shown once' }),
    stamp: z.string().optional(),
    volumes: z.array(z.string()).optional(),
    paths: z.array(z.looseObject({ key: z.string(), path: z.string(), type: entryType })).optional(),
    into: z.enum(['beside', 'in-place']).optional(),
    target: z.string().optional().meta({ description: 'beside: the folder (in the volume) the paths are restored into' }),
    skipSafetyBackup: z.boolean(),
    warning,
    expiresAt: isoTime,
  })
  .meta({ id: 'RestoreRequested' });
export const restoreConfirmed = z.strictObject({ jobId: z.string() }).meta({ id: 'RestoreConfirmed' });
export const restoreView = z
  .looseObject({
    id: z.string(),
    kind: z.enum(['set', 'sql', 'files']),
    stamp: z.string().nullable(),
    volumes: z.array(z.string()),
    state: z.string(),
    jobId: z.string().nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    progress: z.unknown(),
    summary: z.unknown(),
    failedReason: z.string().nullable(),
  })
  .meta({ id: 'Restore' });

const job = z
  .looseObject({
    id: z.string(),
    queue: z.string(),
    name: z.string(),
    volume: z.string().nullable(),
    stamp: z.string().nullable(),
    state: z.string(),
    failedReason: z.string().nullable(),
  })
  .meta({ id: 'Job' });
export const jobAnswer = job;
export const jobsAnswer = z
  .looseObject({
    jobs: z.array(job),
    page: z.looseObject({ limit: z.int(), offset: z.int(), nextOffset: z.int().nullable() }),
    paused: z.array(z.string()),
    workers: z.int().nullable(),
  })
  .meta({ id: 'Jobs' });

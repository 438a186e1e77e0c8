/** The shapes of the REST API's answers that the screens read (README, "REST API v1"). */
export interface Verified {
  ok: boolean;
  at: string;
  error?: string;
}

export interface Archive {
  volume: string;
  kind: 'volume' | 'sql';
  file: string;
  stamp: string;
  size: number;
  verified: Verified | null;
  sizeDrop: { previousFile: string; previousSize: number; ratio: number } | null;
  warnings: number;
  warningMessages: string[];
  catchUpFor: string | null;
  /** A safety backup: the data right before that restore replaced it. */
  safetyFor?: string | null;
  /** 0 for a full, 1, 2, … for the incrementals of a chain. */
  level?: number;
  /** An incremental that is no restorable point: a base failed its verification or is gone. */
  chainProblem?: string;
  /** Known only from an off-site target (a new server after a disaster): no size of its own, only its copies'. */
  remote?: boolean;
  copies?: { target: string; file: string; size: number }[];
}

export interface BackupSet {
  stamp: string;
  createdAt: string;
  catchUpFor: string | null;
  archives: Archive[];
  /** Found only on an off-site target: a restore fetches it `from` one. */
  remote?: boolean;
}

export type VolumeMode = 'full' | 'incremental';

export interface VolumeState {
  name: string;
  kind: 'volume' | 'sql';
  size: number | null;
  mode: VolumeMode;
  fullEvery: number | null;
  fullOn: number | null;
  lastArchive: Archive | null;
  overdue: { expectedBy: string; lastSuccess: string | null } | null;
  /** Why it cannot be reached (its symlink leads nowhere), or null. */
  unreachable?: string | null;
}

export interface VolumesAnswer {
  volumes: VolumeState[];
  backupDir: { freeBytes: number; totalBytes: number } | null;
}

export interface CronView {
  minute: string;
  hour: string;
  day: string;
  month: string;
  weekday: string;
  timezone: string;
  enabled: boolean;
  cron: string;
  nextRuns: string[];
  keep?: number;
  /** LOCAL_RETENTION (e.g. "gfs:7/4/12"): it, not `keep`, decides what the prune keeps. */
  localRetention?: string | null;
  paused?: string[];
}

export interface JobView {
  id: string;
  queue: string;
  name: string;
  volume: string | null;
  stamp: string | null;
  state: string;
  progress: unknown;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  failedReason: string | null;
}

export interface JobsAnswer {
  jobs: JobView[];
  paused: string[];
  /** Worker processes connected now; null when Redis does not say. */
  workers?: number | null;
}

export interface RunAnswer {
  stamp: string;
  jobs: { volume: string; kind: string; file: string; archiveJobId: string; verifyJobId: string; pruneJobId: string }[];
}

export interface RestoreRequestAnswer {
  id: string;
  token: string;
  stamp?: string;
  volumes?: string[];
  database?: string;
  warning: { de: string; en: string };
  expiresAt: string;
  /** A restore from a target: whether its copies are encrypted (the confirmation then takes the age identity). */
  from?: string | null;
  encrypted?: boolean;
}

export interface ArchiveEntry {
  name: string;
  path: string;
  key: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  size: number;
  mtime: string | null;
  linkTarget: string | null;
}

export interface EntriesAnswer {
  stamp: string;
  volume: string;
  dir: string;
  dirKey: string;
  parentKey: string | null;
  entries: ArchiveEntry[];
  nextCursor: string | null;
}

export interface RestoreView {
  id: string;
  kind: 'set' | 'sql' | 'files';
  state: string;
  progress: { phase?: string; volume?: string; bytesDone?: number; bytesTotal?: number } | null;
  /** No safety backup (or dump) of the current data was asked for. */
  skipSafetyBackup?: boolean;
  summary: {
    message?: string;
    safetyBackupStamp?: string | null;
    safetyDump?: string | null;
    volumes?: { volume: string; files: number; bytes: number }[];
    /** Single files: the folder they were restored into (beside), and how many files. */
    target?: string | null;
    files?: number;
    /** SQL restores: values MariaDB changed while loading, the first few messages (quoted values redacted). */
    warnings?: { count: number; messages: string[] };
    /** SQL restores: other connections using the database when the load ended. */
    clientsDuringLoad?: string | null;
    /** SQL restores: DB_USER could not see other MariaDB users' connections (no PROCESS privilege). */
    otherUsersUnchecked?: boolean;
  } | null;
  failedReason: string | null;
}

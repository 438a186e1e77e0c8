/**
 * Job data is not trusted. bull-board lets an operator edit a job's data or add a job to a queue,
 * and a job may have been queued by an earlier version; the API is not the only way in. So every
 * processor that names a file from its data checks the data first: a volume or dump name and a
 * stamp as the naming allows (no `/`, no `..`), and a file that is that run's archive of that
 * volume. Otherwise `path.join(BACKUP_DIR, file)` could point anywhere: a verify job would write
 * its `.verify.json` beside any file, a copy job upload any file off-site.
 */
import { UnrecoverableError } from 'bullmq';
import { isValidStamp, isValidVolumeName, parseArchiveName, type ArchiveKind } from '../core/names.js';

export interface RunJobFields {
  volume: string;
  stamp: string;
  file?: string;
  kind?: ArchiveKind;
}

/** Throws an UnrecoverableError (a retry cannot help) that says which field is wrong. */
export function checkRunJobData(data: RunJobFields): void {
  const problem = runJobDataProblem(data);
  if (problem) throw new UnrecoverableError(`job data refused, nothing was done: ${problem}`);
}

export function runJobDataProblem(data: RunJobFields): string | undefined {
  const { volume, stamp, file, kind } = data ?? ({} as RunJobFields);
  if (typeof volume !== 'string' || !isValidVolumeName(volume)) return `volume ${JSON.stringify(volume)} is not a volume or dump name`;
  if (typeof stamp !== 'string' || !isValidStamp(stamp)) return `stamp ${JSON.stringify(stamp)} is not a stamp (YYYY-MM-DD-HHmm)`;
  if (kind !== undefined && kind !== 'volume' && kind !== 'sql') return `kind ${JSON.stringify(kind)} is neither "volume" nor "sql"`;
  if (file === undefined) return undefined;
  const name = typeof file === 'string' ? parseArchiveName(file) : undefined;
  if (!name || name.volume !== volume || name.stamp !== stamp || (kind !== undefined && name.kind !== kind)) {
    return `file ${JSON.stringify(file)} is not the archive of ${volume} from ${stamp}`;
  }
  return undefined;
}

/**
 * What a run job's data (archive, dump, verify, prune, copy) must look like before any file is
 * named from it: a volume or dump name and a stamp as the naming allows (no `/`, no `..`), and a
 * file that is that run's archive of that volume. The processors refuse anything else
 * (jobs/job-data.ts); the dashboard's "add" and "update data" refuse it before a job exists
 * (api/dashboard-input.ts).
 */
import { isValidStamp, isValidVolumeName, parseArchiveName, type ArchiveKind } from './names.js';

export interface RunJobFields {
  volume: string;
  stamp: string;
  file?: string;
  kind?: ArchiveKind;
}

/** What is wrong with `data`, in words a person can act on; undefined when nothing is. */
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

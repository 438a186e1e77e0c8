/**
 * Job data is not trusted. bull-board lets an operator edit a job's data or add a job to a queue,
 * and a job may have been queued by an earlier version; the API is not the only way in. So every
 * processor that names a file from its data checks the data first: a volume or dump name and a
 * stamp as the naming allows (no `/`, no `..`), and a file that is that run's archive of that
 * volume. Otherwise `path.join(BACKUP_DIR, file)` could point anywhere: a verify job would write
 * its `.verify.json` beside any file, a copy job upload any file off-site.
 */
import { UnrecoverableError } from 'bullmq';
import { runJobDataProblem, type RunJobFields } from '../core/run-job-data.js';

export { runJobDataProblem, type RunJobFields };

/** Throws an UnrecoverableError (a retry cannot help) that says which field is wrong. */
export function checkRunJobData(data: RunJobFields): void {
  const problem = runJobDataProblem(data);
  if (problem) throw new UnrecoverableError(`job data refused, nothing was done: ${problem}`);
}

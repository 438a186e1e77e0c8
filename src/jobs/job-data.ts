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

/**
 * Throws an UnrecoverableError (a retry cannot help) that says which field is wrong. With `job`: a
 * job of a run's flow (its id `<kind>-<volume>-<stamp>`, as backup-runs.ts makes them) must name
 * that run's volume and stamp. bull-board's "update data" could otherwise turn the prune of a run
 * whose verification failed into a prune for an earlier, good run, which then deleted archives
 * after a failure (found by an audit). A job added by hand has another id, and the rules of its
 * own stamp.
 */
export function checkRunJobData(data: RunJobFields, job?: { id?: string; name: string }): void {
  const problem = runJobDataProblem(data);
  if (problem) throw new UnrecoverableError(`job data refused, nothing was done: ${problem}`);
  const prefix = job ? `${job.name}-` : undefined;
  if (job?.id && prefix && job.id.startsWith(prefix) && /-\d{4}-\d{2}-\d{2}-\d{4}$/.test(job.id) && job.id !== `${prefix}${data.volume}-${data.stamp}`) {
    throw new UnrecoverableError(`job data refused, nothing was done: job ${job.id} belongs to its own run, but its data names ${data.volume} ${data.stamp} (edited in the dashboard?)`);
  }
}

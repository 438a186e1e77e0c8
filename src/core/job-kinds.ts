/** How metrics and alerts name the kind of a job. */

/**
 * Job kinds as the metrics name them: the queue's name, except in `schedule`, whose jobs are the
 * scheduler ticks: `run` (a backup run) and `verify-newest` (counted as `verify`).
 */
export function failureKind(queue: string, jobName: string): string {
  if (queue !== 'schedule') return queue;
  if (jobName === 'run') return 'run';
  if (jobName.startsWith('verify')) return 'verify';
  return jobName;
}

/**
 * Nobody reads logs at 03:15: a job that failed for good (no attempt left) becomes a webhook alert,
 * and each volume's finished backup (its prune completed) a `run.finished` one, which is sent only
 * with NOTIFY_ON=always. The notifier queues them in `alerts`; the alert worker delivers them.
 */
import type { Worker } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import { failureKind } from '../core/job-kinds.js';
import { makeAlert } from '../stores/notifier.js';
import type { QueueName } from '../stores/queues.js';

export function attachAlerts(ctx: AppContext, name: QueueName, worker: Worker): void {
  worker.on('failed', (job, err) => {
    if (!job) return;
    const attemptsMax = job.opts.attempts ?? 1;
    if (job.attemptsMade < attemptsMax && err.name !== 'UnrecoverableError') return; // will be retried
    if (name === 'copy') {
      // A failed copy leaves the local backup intact: its own event, so a receiver can rank it.
      ctx.notifier.notify(
        makeAlert({ event: 'offsite.failed', kind: 'copy', volume: job.data?.volume, stamp: job.data?.stamp, reason: err.message, attempt: job.attemptsMade, attemptsMax, details: { target: job.data?.target, file: job.data?.file } }),
      );
      return;
    }
    ctx.notifier.notify(
      makeAlert({
        event: 'job.failed',
        kind: failureKind(name, job.name),
        volume: job.data?.volume,
        stamp: job.data?.stamp,
        reason: err.message,
        attempt: job.attemptsMade,
        attemptsMax,
      }),
    );
  });
  if (name === 'prune') {
    worker.on('completed', (job) =>
      ctx.notifier.notify(makeAlert({ event: 'run.finished', ok: true, kind: 'prune', volume: job.data.volume, stamp: job.data.stamp })),
    );
  }
}

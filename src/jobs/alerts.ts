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

/** BullMQ's reason for a parent failed by its child (failParentOnFailure). */
const PARENT_FAILED_BY_CHILD = /^child \S+ failed$/;

export function attachAlerts(ctx: AppContext, name: QueueName, worker: Worker): void {
  worker.on('failed', (job, err) => {
    if (!job) return;
    const attemptsMax = job.opts.attempts ?? 1;
    // A verify or prune that failed only because its archive failed (failParentOnFailure: BullMQ's
    // "child <key> failed"): the archive's own alert says what happened; two more alerts with that
    // text, one of them "attempt 1/2", only buried it (found by a tester).
    if (PARENT_FAILED_BY_CHILD.test(err.message)) return;
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
    // `kind` names what was backed up (`volume` or `sql`, as the listing does): the receiver wants
    // the backup, not which job of its flow happened to finish last. Without one (a job of an
    // earlier version), prune takes it for a volume too.
    worker.on('completed', (job) =>
      ctx.notifier.notify(makeAlert({ event: 'run.finished', ok: true, kind: job.data.kind ?? 'volume', volume: job.data.volume, stamp: job.data.stamp })),
    );
  }
}

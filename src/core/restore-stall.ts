/**
 * What a restore's failure means when its job failed without the restore recording why: BullMQ
 * fails a stalled restore (its worker was killed, or cut off from Redis for longer than its lock)
 * with "job stalled more than allowable limit", and a restore is never run twice (maxStalledCount
 * 0). An admin reading that needs to know what became of the volumes (found by an audit: a restore
 * killed before it had changed anything said only that).
 */
const BULLMQ_STALLED = /stalled more than allowable limit/;

export const RESTORE_STALLED =
  'the worker running this restore stopped (killed, or cut off from Redis for longer than its lock), and a restore is never ' +
  'started twice. A volume it had begun to change is put back as it was, or its swap finished, by the recovery at the next ' +
  'worker start or maintenance run, which then says here what it did (as soon as the dead restore\'s locks expire, VOLUME_LOCK_TTL); ' +
  'while this text stays, it had not changed anything. Request the restore again if it is still wanted';

/** The job's own failed reason, or the explanation above for BullMQ's stall message. */
export function restoreFailureText(jobReason: string | null | undefined): string | null {
  if (!jobReason) return null;
  return BULLMQ_STALLED.test(jobReason) ? RESTORE_STALLED : jobReason;
}

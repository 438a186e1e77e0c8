/** Queue verify jobs for every archive of a set (on the verify schedule, or on request). */
import type { BackupSet } from './backup-store.js';
import { KEEP_HISTORY, type Queues, type VerifyJobData } from './queues.js';

export async function enqueueSetVerification(queues: Queues, set: BackupSet, at = Date.now()): Promise<{ file: string; jobId: string }[]> {
  const jobs: { file: string; jobId: string }[] = [];
  for (const a of set.archives) {
    const data: VerifyJobData = { volume: a.volume, stamp: a.stamp, file: a.file, kind: a.kind };
    // A time suffix: the same archive is verified again on every request, never deduplicated away.
    const jobId = `verify-${a.volume}-${a.stamp}-${at}`;
    await queues.verify.add('verify', data, { ...KEEP_HISTORY, jobId, attempts: 1 });
    jobs.push({ file: a.file, jobId });
  }
  return jobs;
}

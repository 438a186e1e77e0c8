/**
 * Queues paused by hand (the dashboard's pause button, or BullMQ's API): their jobs wait and no
 * worker takes them, so a backup run would never finish. The API shows them (GET /api/schedule,
 * GET /api/jobs) and "run now" refuses to start a run that would only wait.
 */
import { QUEUE_NAMES, type QueueName, type Queues } from './queues.js';

export async function pausedQueues(queues: Queues): Promise<QueueName[]> {
  const paused = await Promise.all(QUEUE_NAMES.map((name) => queues[name].isPaused()));
  return QUEUE_NAMES.filter((_, i) => paused[i]);
}

/** The queues a backup run puts jobs into (the dump's only when a database is configured). */
export function runQueues(withDump: boolean): QueueName[] {
  return withDump ? ['archive', 'dump', 'verify', 'prune'] : ['archive', 'verify', 'prune'];
}

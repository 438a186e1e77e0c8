/**
 * stores/ — state that outlives a request or a job: in Redis (queues, the schedule and its
 * schedulers, volume locks, restore requests and their confirmation, run claims, alert queueing,
 * finished-job totals) and in BACKUP_DIR (the listing of backups, uploads). Small classes with one
 * job each; their Redis connection and key prefix come in through their constructors.
 *
 * May import: core/, engine/, stores/, BullMQ and ioredis. May not import: the configuration,
 * db/, runtime/, jobs/, api/ (checked by `npm run lint`, .dependency-cruiser.cjs).
 *
 * This file names the folder's main entry points; import from the modules themselves.
 */
export { openQueues, QUEUE_NAMES } from './queues.js';
export { BackupStore } from './backup-store.js';
export { RestoreRequests } from './restore-requests.js';
export { VolumeLocks } from './volume-lock.js';

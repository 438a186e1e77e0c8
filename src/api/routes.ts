/** The REST contract v1 in one table. */
import type { Handler } from './handler.js';
import { getBackup, listBackups, runNow } from './handlers/backups.js';
import { listEntries } from './handlers/entries.js';
import { getJob, listJobs } from './handlers/jobs.js';
import { getOpenApi } from './handlers/openapi.js';
import { confirmRestore, getRestore, requestSetRestore, requestSqlRestore } from './handlers/restores.js';
import { deleteSchedule, getSchedule, previewSchedule, putSchedule } from './handlers/schedule.js';
import { listVolumes, putVolumeMode } from './handlers/volumes.js';
import { deleteVerifySchedule, getVerifySchedule, putVerifySchedule, verifySetNow } from './handlers/verify.js';

export interface Route {
  method: 'get' | 'put' | 'post' | 'delete';
  path: string;
  handler: Handler;
  /** false: the handler reads only BACKUP_DIR, so it works while Redis is away. */
  redis?: false;
}

/** The one route that takes a raw body (the SQL file) instead of JSON, relative to /api. */
export const UPLOAD_PATH = '/restores/sql';

export const API_ROUTES: Route[] = [
  { method: 'get', path: '/api/schedule', handler: getSchedule },
  { method: 'put', path: '/api/schedule', handler: putSchedule },
  { method: 'delete', path: '/api/schedule', handler: deleteSchedule },
  { method: 'post', path: '/api/schedule/preview', handler: previewSchedule, redis: false },
  { method: 'get', path: '/api/backups', handler: listBackups, redis: false },
  { method: 'post', path: '/api/backups', handler: runNow },
  { method: 'get', path: '/api/backups/:stamp', handler: getBackup, redis: false },
  { method: 'post', path: '/api/backups/:stamp/verify', handler: verifySetNow },
  { method: 'get', path: '/api/backups/:stamp/archives/:volume/entries', handler: listEntries, redis: false },
  { method: 'get', path: '/api/verify-schedule', handler: getVerifySchedule },
  { method: 'put', path: '/api/verify-schedule', handler: putVerifySchedule },
  { method: 'delete', path: '/api/verify-schedule', handler: deleteVerifySchedule },
  { method: 'get', path: '/api/volumes', handler: listVolumes },
  { method: 'put', path: '/api/volumes/:name', handler: putVolumeMode },
  { method: 'get', path: '/api/jobs', handler: listJobs },
  { method: 'get', path: '/api/jobs/:id', handler: getJob },
  { method: 'post', path: '/api/restores', handler: requestSetRestore },
  { method: 'post', path: `/api${UPLOAD_PATH}`, handler: requestSqlRestore },
  { method: 'post', path: '/api/restores/:id/confirm', handler: confirmRestore },
  { method: 'get', path: '/api/restores/:id', handler: getRestore },
  { method: 'get', path: '/api/openapi.json', handler: getOpenApi, redis: false },
];

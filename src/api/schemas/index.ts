/**
 * The request schemas of the REST API v1, one export per body, query or path: handlers validate with
 * them through parseRequest (../validate.ts), and an OpenAPI document can be generated from them.
 */
export { runBackupBody, stampParams } from './backups.js';
export { ENTRIES_DEFAULT_LIMIT, ENTRIES_MAX_LIMIT, entriesParams, entriesQuery } from './entries.js';
export { JOB_STATES, jobsQuery } from './jobs.js';
export { confirmRestoreBody, entryKey, RESTORE_INTO, setRestoreBody, sqlRestoreQuery } from './restores.js';
export { scheduleBody, verifyScheduleBody } from './schedule.js';
export { volumeModeBody, volumeParams } from './volumes.js';

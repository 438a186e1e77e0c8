/**
 * core/ — the domain in pure functions: crontab fields and run times, archive names and stamps,
 * retention and size drops, overdue volumes, restore warnings, names shown escaped, the clock's
 * interface. No I/O, no side effects, no state.
 *
 * May import: core/ and pure libraries (cron-parser). May not import: anything else of src/ —
 * engine/, db/, stores/, runtime/, jobs/, api/ all build on core/, never the other way round
 * (checked by `npm run lint`, .dependency-cruiser.cjs).
 *
 * This file names the folder's main entry points; import from the modules themselves.
 */
export { nextRuns, previousRun, toCronPattern } from './cron.js';
export { validateField, type CronFields } from './cron-fields.js';
export { archiveFileName, parseArchiveName, formatStamp } from './names.js';
export { showName, quoteName } from './show-name.js';
export type { Clock } from './clock.js';

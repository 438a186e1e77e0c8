/**
 * db/ — the MariaDB clients: `mariadb-dump` into a verified `.sql.gz` (dump.ts), a `.sql` or
 * `.sql.gz` checked for being whole and copied privately in the same pass (sql-check.ts) and
 * loaded into a database (load.ts), the credentials in a
 * 0600 option file, never in argv or the environment (option-file.ts), running the clients
 * (client.ts), and the checks on their streams (stream-checks.ts: the `-- Dump completed` line,
 * the database sniffer).
 *
 * May import: core/, engine/ (atomic publication, progress), db/. May not import: BullMQ,
 * ioredis, Express, the configuration, stores/, runtime/, jobs/, api/ (checked by `npm run lint`).
 *
 * This file names the folder's main entry points; import from the modules themselves.
 */
export { dumpDatabase } from './dump.js';
export { checkSqlFile, loadSqlFile } from './load.js';
export { databaseDefaults, serverPacketLimit } from './server-facts.js';
export type { DbSettings } from './option-file.js';

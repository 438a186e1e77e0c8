/** The overview's advice for a failed job, from reasons the jobs really give. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adviceFor } from '../../ui/advice.js';

describe('advice for a failed job', () => {
  const table: [string, string][] = [
    ['ENOSPC: no space left on device, write (elexisdb)', 'advice.space'],
    ['not enough free space in /backup for the archive of pacsdata: need 2.0 GiB, free 1.1 GiB', 'advice.space'],
    ['elexisdb_2026-11-21-0315.tar.gz failed verification: unexpected end of file', 'advice.corrupt'],
    ['volume "lucindadata" is not configured any more', 'advice.missing'],
    ['elexisdb_2026-11-21-0315.tar.gz does not exist (pruned or moved away?)', 'advice.missing'],
    ['mariadb-dump exited with 2: Got error: 2002: "Can\'t connect to server"', 'advice.database'],
    ['the volume lock of pacsdata was lost', 'advice.generic'],
  ];
  for (const [reason, advice] of table) it(reason, () => assert.equal(adviceFor(reason), advice));
});

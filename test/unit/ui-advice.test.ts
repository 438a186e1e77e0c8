/** The overview's advice for a failed job, from reasons the jobs really give. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adviceFor, failedWithItsChild, restoreLeftDataUntouched } from '../../ui/advice.js';

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

describe('whether a failed restore left the live data untouched', () => {
  const table: [string, boolean][] = [
    ['extracting the backup failed, nothing was changed: writing the restored data into pacsdata failed', true],
    ['swapping in the restored data failed, the volume was rolled back to its previous content (EIO)', true],
    // One volume rolled back, another already restored: the data did change.
    ['replacing pacsdata failed and was rolled back: EIO. Already restored: elexisdb.', false],
    ['the restore was interrupted (its worker stopped or lost Redis); pacsdata: restore x: completed a committed swap', false],
  ];
  for (const [reason, untouched] of table) it(reason, () => assert.equal(restoreLeftDataUntouched(reason), untouched));
  it('no reason: not known to be untouched', () => assert.equal(restoreLeftDataUntouched(null), false));
});

describe('a failure that only repeats its child', () => {
  it("BullMQ's reason for a verify failed with its archive is one (found by a tester: shown as a second failure with the generic advice)", () =>
    assert.equal(failedWithItsChild('child oob:archive:archive-pacsdata-2026-12-03-1754 failed'), true));
  it('a failure of its own is not', () => {
    assert.equal(failedWithItsChild('pacsdata_2026-12-03-1754.tar.gz failed verification: archive is corrupt'), false);
    assert.equal(failedWithItsChild(null), false);
  });
});

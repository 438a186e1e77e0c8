/** What counts as a complete copy on a target: the archive with its completion marker, encrypted or plain. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completeRemoteArchives, completionMarker, remoteNamesOf } from '../../src/core/offsite-names.js';

const A = 'lucindadata_2026-11-30-0315.tar.gz';
const D = 'elexisdb-sql_2026-11-30-0315.sql.gz';

describe('completeRemoteArchives', () => {
  it('lists encrypted and plain copies that have their marker, with their object names', () => {
    const names = [`${A}.age`, `${A}.age.sha256`, `${A}.sha256`, `${A}.manifest.json.age`, D, `${D}.sha256`, `${D}.manifest.json`];
    assert.deepEqual(completeRemoteArchives(names).map((a) => [a.file, a.object, a.encrypted, a.kind]), [
      [D, D, false, 'sql'],
      [A, `${A}.age`, true, 'volume'],
    ]);
  });

  it('leaves out an upload cut off before its marker, and files that are not ours', () => {
    // `<file>.sha256` alone does not complete an encrypted copy: it is the plaintext's checksum.
    assert.deepEqual(completeRemoteArchives([`${A}.age`, `${A}.sha256`, 'notes.txt', 'notes.txt.sha256', `${A}.manifest.json.age`]), []);
  });

  it('names every file of a copy for removal, the marker among them', () => {
    for (const enc of [true, false]) assert.ok(remoteNamesOf(A).includes(completionMarker(A, enc)));
  });
});

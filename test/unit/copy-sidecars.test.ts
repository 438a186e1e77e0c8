/** The sidecars of an off-site copy must fit the archive they stand beside (src/engine/offsite/copy-sidecars.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCopyManifest, checksumFor } from '../../src/engine/offsite/copy-sidecars.js';

const SHA = 'a'.repeat(64);
const FILE = 'lucindadata_2026-11-22-0315.tar.gz';
const OLDER = 'lucindadata_2026-11-21-0315.tar.gz';

describe('checksumFor', () => {
  it('gives the sha256 of a sha256sum line that names the object, in text or binary mode, with or without ./', () => {
    for (const line of [`${SHA}  ${FILE}\n`, `${SHA} *${FILE}\n`, `${SHA}  ./${FILE}`]) assert.equal(checksumFor(line, `${FILE}.sha256`, FILE, 't:x'), SHA);
  });

  it('refuses a line that names another archive, and text that is no sha256sum line', () => {
    assert.throws(() => checksumFor(`${SHA}  ${OLDER}\n`, `${FILE}.sha256`, FILE, 't:x'), new RegExp(`is the checksum of "${OLDER}", not of ${FILE}`));
    assert.throws(() => checksumFor('hello\n', `${FILE}.sha256`, FILE, 't:x'), /is not a sha256sum line/);
    assert.throws(() => checksumFor(`${'A'.repeat(64)}  ${FILE}\n`, `${FILE}.sha256`, FILE, 't:x'), /is not a sha256sum line/);
  });
});

describe('checkCopyManifest', () => {
  const good = { tool: 'oob-backup', file: FILE, sha256: SHA, entries: 3, entryDigest: 'd' };
  const check = (m: unknown, kind: 'volume' | 'sql' = 'volume') => () => checkCopyManifest(typeof m === 'string' ? m : JSON.stringify(m), 'm.json', FILE, SHA, kind, 't:x');

  it('accepts this service\'s manifest of this archive; a dump\'s needs no entries', () => {
    check(good)();
    check({ tool: 'oob-backup', file: FILE, sha256: SHA, kind: 'sql' }, 'sql')();
  });

  it('refuses another archive\'s manifest, another tool\'s, no JSON, another sha256, missing entries', () => {
    assert.throws(check({ ...good, file: OLDER }), new RegExp(`belongs to "${OLDER}", not to ${FILE}`));
    assert.throws(check({ ...good, tool: 'bsdtar' }), /not a manifest of this service/);
    assert.throws(check('{not json'), /not a manifest of this service \(no JSON\)/);
    assert.throws(check('null'), /not a manifest of this service/);
    assert.throws(check({ ...good, sha256: 'b'.repeat(64) }), /gives the archive the sha256 b{64}, its \.sha256 says a{64}/);
    assert.throws(check({ ...good, entryDigest: undefined }), /lacks the entry count or the entry digest/);
  });
});

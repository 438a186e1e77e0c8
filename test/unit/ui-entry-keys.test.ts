/** The backup screens' handling of entry keys: ancestors keep the exact bytes of every name. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToKey, crumbs, keyToBytes } from '../../ui/entry-keys.js';

/** As the API makes them (src/api/archive-paths.ts): base64url of the path's bytes. */
const apiKey = (bytes: Buffer) => bytes.toString('base64url');

describe('entry keys in the browser', () => {
  it('round-trip any bytes, as the API encodes them', () => {
    for (const path of [Buffer.from('a'), Buffer.from('dokumente/2026/brief.pdf'), Buffer.from([0xfc, 0x2f, 0xff, 0xfe, 0x00, 0x3e, 0x3f]), Buffer.alloc(0)]) {
      assert.equal(bytesToKey(new Uint8Array(path)), apiKey(path));
      assert.deepEqual(Buffer.from(keyToBytes(apiKey(path))), path);
    }
  });

  it('give every folder above a directory, each with the key the API would give it', () => {
    const latin1 = Buffer.concat([Buffer.from('Praxis/Bericht_M'), Buffer.from([0xfc]), Buffer.from('ller/2026')]);
    const got = crumbs(apiKey(latin1));
    assert.deepEqual(
      got.map((c) => c.key),
      ['', apiKey(Buffer.from('Praxis')), apiKey(latin1.subarray(0, latin1.indexOf(0x2f, 7))), apiKey(latin1)],
    );
    assert.deepEqual(got.map((c) => c.name), ['/', 'Praxis', 'Bericht_M\ufffdller', '2026']);
    assert.deepEqual(crumbs(''), [{ key: '', name: '/' }]);
  });
});

/** Bech32 decoding of age recipients (src/core/bech32.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bech32Decode } from '../../src/core/bech32.js';

// The example recipient of the age specification (age-encryption.org/v1).
const KEY = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

describe('bech32Decode', () => {
  it('decodes an age recipient to its 32-byte key, in either case', () => {
    const key = bech32Decode(KEY, 'age');
    assert.equal(key.length, 32);
    assert.ok(bech32Decode(KEY.toUpperCase(), 'age').equals(key));
  });

  it('is the BIP 173 test vector a12uel5l (no data) and refuses its neighbours', () => {
    assert.equal(bech32Decode('a12uel5l', 'a').length, 0);
    assert.throws(() => bech32Decode('a12uel5m', 'a'), /wrong checksum/);
  });

  it('refuses a changed character, a cut key, mixed case, another prefix and foreign characters', () => {
    const changed = KEY.slice(0, 20) + (KEY[20] === 'q' ? 'p' : 'q') + KEY.slice(21);
    assert.throws(() => bech32Decode(changed, 'age'), /wrong checksum/);
    assert.throws(() => bech32Decode(KEY.slice(0, -1), 'age'), /wrong checksum/);
    assert.throws(() => bech32Decode(KEY.slice(0, 10) + KEY.slice(10).toUpperCase(), 'age'), /mixes upper and lower case/);
    assert.throws(() => bech32Decode(KEY, 'age-plugin'), /does not start with "age-plugin1"/);
    assert.throws(() => bech32Decode('age1bio' + KEY.slice(7), 'age'), /contains "b"/);
  });
});

/**
 * Our age encryption (src/engine/offsite/age-encrypt.ts) against the reference: every output is
 * decrypted by the `age` CLI (Debian's, the Go reference implementation), for the sizes where the
 * format's chunking has edges (empty, one byte, one chunk less one, exactly one, one more, several)
 * and for input arriving in pieces that do and do not line up with the 64 KiB chunks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { AGE_CHUNK, AgeEncrypt, encryptedSize } from '../../src/engine/offsite/age-encrypt.js';

let dir = '';
const keys: { identityFile: string; recipient: string }[] = [];

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-age-encrypt-'));
  for (const i of [1, 2]) {
    const identityFile = path.join(dir, `key${i}.txt`);
    execFileSync('age-keygen', ['-o', identityFile], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', identityFile], { encoding: 'utf8' }).trim();
    keys.push({ identityFile, recipient });
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `data` written in `piece`-byte writes through AgeEncrypt. */
async function encrypt(data: Buffer, piece: number, recipients: string[]): Promise<Buffer> {
  const pieces = function* () {
    for (let o = 0; o < data.length; o += piece) yield data.subarray(o, o + piece);
  };
  return buffer(Readable.from(pieces(), { objectMode: false }).pipe(new AgeEncrypt(recipients)));
}

const ageDecrypt = (cipher: Buffer, identityFile: string) => execFileSync('age', ['-d', '-i', identityFile], { input: cipher, maxBuffer: 64 * 1024 * 1024 });

describe('age encryption in this process', () => {
  const sizes = [0, 1, AGE_CHUNK - 1, AGE_CHUNK, AGE_CHUNK + 1, 2 * AGE_CHUNK, 3 * AGE_CHUNK + 17, 1_000_000];
  for (const n of sizes) {
    it(`${n} bytes: age -d gives them back, for each of two recipients, whatever the write sizes`, async () => {
      const data = randomBytes(n);
      for (const piece of [1000, AGE_CHUNK, 1024 * 1024]) {
        const cipher = await encrypt(data, piece, keys.map((k) => k.recipient));
        assert.equal(cipher.length, encryptedSize(n, 2), `size with ${piece}-byte writes`);
        for (const k of keys) assert.ok(ageDecrypt(cipher, k.identityFile).equals(data), `${piece}-byte writes, ${k.recipient}`);
      }
    });
  }

  it('a fresh file key and nonce each time: the same plaintext never gives the same ciphertext', async () => {
    const data = Buffer.from('Patientendaten\n'.repeat(1000));
    const [a, b] = await Promise.all([encrypt(data, 4096, [keys[0]!.recipient]), encrypt(data, 4096, [keys[0]!.recipient])]);
    assert.equal(a.length, b.length);
    assert.ok(!a.equals(b));
  });

  it('a changed byte anywhere is refused by age -d (the header MAC, a chunk tag)', async () => {
    const data = randomBytes(3 * AGE_CHUNK);
    const cipher = await encrypt(data, AGE_CHUNK, [keys[0]!.recipient]);
    for (const at of [30, cipher.length - 1 - AGE_CHUNK, cipher.length - 1]) {
      const bad = Buffer.from(cipher);
      bad[at]! ^= 0x01;
      assert.throws(() => ageDecrypt(bad, keys[0]!.identityFile), /age exited|Command failed/, `byte ${at} changed`);
    }
    // Cut after a whole chunk: the last chunk's flag is missing, age must notice the truncation.
    assert.throws(() => ageDecrypt(cipher.subarray(0, cipher.length - AGE_CHUNK - 16), keys[0]!.identityFile));
  });

  it('a recipient with a wrong checksum or a low-order key is refused at once, naming it', () => {
    const key = keys[0]!.recipient;
    const typo = key.slice(0, 10) + (key[10] === 'q' ? 'p' : 'q') + key.slice(11);
    assert.throws(() => new AgeEncrypt([typo]), new RegExp(`age recipient ${typo} has a wrong checksum`));
    assert.throws(() => new AgeEncrypt([]), /at least one recipient/);
    // The all-zero key: its bech32 is valid, but it is a low-order point, which age refuses too.
    const zero = `age1${'q'.repeat(52)}5cu47z`;
    assert.throws(() => execFileSync('age', ['-r', zero], { input: 'x', stdio: ['pipe', 'pipe', 'pipe'] }), /low order/);
    assert.throws(() => new AgeEncrypt([zero]), /is a low-order point, not a usable key/);
  });
});

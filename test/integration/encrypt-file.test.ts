/**
 * The encrypted copy's producer (src/engine/offsite/encrypt-file.ts): a file read, hashed,
 * encrypted and written to a sink in one loop. Every output is decrypted by the `age` CLI (the
 * reference) for sizes at the edges of age's 64 KiB chunks and of the loop's 1 MiB reads, through a
 * sink that is slow and holds little (back-pressure); the digests are held against sha256sum's and
 * sha1sum's; a file that is shorter or longer than the size the copy began with fails it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { AGE_CHUNK, AgeSealer, encryptedSize } from '../../src/engine/offsite/age-encrypt.js';
import { encryptFileInto } from '../../src/engine/offsite/encrypt-file.js';

let dir = '';
let identityFile = '';
let recipient = '';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-encrypt-file-'));
  identityFile = path.join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', identityFile], { stdio: 'ignore' });
  recipient = execFileSync('age-keygen', ['-y', identityFile], { encoding: 'utf8' }).trim();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A sink that keeps what it gets; `slow`: a turn of the event loop per write and a small buffer, so the producer must wait for it. */
function collector(slow: boolean): { sink: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: slow ? 1024 : 16 * 1024,
    write: (chunk: Buffer, _enc, done) => {
      parts.push(Buffer.from(chunk));
      if (slow) void nextTurn().then(() => done());
      else done();
    },
  });
  return { sink, bytes: () => Buffer.concat(parts) };
}

const MiB = 1024 * 1024;
const sha = (type: string, b: Buffer) => createHash(type).update(b).digest('hex');

describe('an archive encrypted straight into the stream rclone reads', () => {
  const sizes = [0, 1, AGE_CHUNK, AGE_CHUNK + 1, MiB - 1, MiB, MiB + 1, 2 * MiB + 17];
  for (const n of sizes) {
    it(`${n} bytes: age -d gives them back; the size is encryptedSize's; the digests are those of what was written`, async () => {
      const file = path.join(dir, `plain-${n}`);
      const data = randomBytes(n);
      fs.writeFileSync(file, data);
      for (const slow of [false, true]) {
        const { sink, bytes } = collector(slow);
        const r = await encryptFileInto({ file, plainSize: n, sealer: new AgeSealer([recipient]), also: ['sha1'], sink, signal: new AbortController().signal });
        const cipher = bytes();
        assert.equal(cipher.length, encryptedSize(n, 1));
        assert.equal(r.sent.size, cipher.length);
        assert.equal(r.sent.sha256, sha('sha256', cipher));
        assert.equal(r.sent.sha1, sha('sha1', cipher));
        assert.equal(r.sent.md5, '', 'md5 was not asked for');
        assert.equal(r.plainSha256, sha('sha256', data));
        const back = execFileSync('age', ['-d', '-i', identityFile], { input: cipher, maxBuffer: 16 * MiB });
        assert.ok(back.equals(data), `${n} bytes, ${slow ? 'slow' : 'fast'} sink`);
      }
    });
  }

  it('a file shorter or longer than when the copy began fails it, naming the file', async () => {
    const file = path.join(dir, 'changing.tar.gz');
    fs.writeFileSync(file, randomBytes(MiB + 100));
    const run = (plainSize: number) =>
      encryptFileInto({ file, plainSize, sealer: new AgeSealer([recipient]), also: [], sink: collector(false).sink, signal: new AbortController().signal });
    await assert.rejects(run(MiB + 200), /changing\.tar\.gz changed while it was copied \(it ended after 1048676 bytes, it had 1048776 bytes when the copy began\)/);
    await assert.rejects(run(MiB + 50), /changing\.tar\.gz changed while it was copied \(it grew, it had 1048626 bytes/);
    await assert.rejects(run(MiB), /changed while it was copied \(it grew/);
  });

  it('stops when its reader goes away (the signal), instead of waiting for a drain that never comes', async () => {
    const file = path.join(dir, 'large.tar.gz');
    fs.writeFileSync(file, randomBytes(4 * MiB));
    const stop = new AbortController();
    // A sink that takes the header, then holds the next write for good and goes away a turn later.
    let writes = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write: (_chunk, _enc, done) => {
        if (++writes === 1) return done();
        void nextTurn().then(() => stop.abort(new Error('rclone stopped reading')));
      },
    });
    await assert.rejects(encryptFileInto({ file, plainSize: 4 * MiB, sealer: new AgeSealer([recipient]), also: [], sink, signal: stop.signal }), /rclone stopped reading/);
    assert.equal(writes, 2, 'it waited for the reader after the first MiB');
  });
});

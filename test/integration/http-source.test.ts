/**
 * The encrypted copy's stream as an http object (src/engine/offsite/http-source.ts): what it answers
 * to rclone and to anyone else, a serve made anew when rclone opens it again, a failing stream's own
 * reason; and through a real rclone daemon to a local-disk target, whose multi-thread copy (ranges
 * read side by side) must not be used on a stream.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpSource } from '../../src/engine/offsite/http-source.js';
import { waitFor } from '../helpers/service.js';
import { configSecrets, type RcloneOptions } from '../../src/engine/offsite/rclone.js';
import { RcloneDaemon } from '../../src/engine/offsite/rclone-daemon.js';
import { sendObject } from '../../src/engine/offsite/send.js';

let work = '';
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-http-source-'));
});
after(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** The source's URL of its one object (as rclone is told it). */
function objectUrl(source: HttpSource<unknown>): string {
  const { fs: remote, name } = source.remote;
  return `${/url='([^']+)'/.exec(remote)![1]}${name}`;
}

describe('the stream as an http object', () => {
  it('answers its size to HEAD, its bytes to GET; refuses ranges, other paths and methods', async () => {
    const body = randomBytes(100_000);
    const source = await HttpSource.open(body.length, async (sink) => {
      sink.end(body);
      return 'served';
    });
    try {
      const url = objectUrl(source);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/object$/);
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(body.length));
      assert.equal((await fetch(url, { headers: { range: 'bytes=10-' } })).status, 416);
      assert.equal((await fetch(url.replace(/[0-9a-f]{32}/, '0'.repeat(32)))).status, 404);
      assert.equal((await fetch(url, { method: 'POST' })).status, 404);
      const got = Buffer.from(await (await fetch(url)).arrayBuffer());
      assert.ok(got.equals(body));
      assert.equal(await source.result(), 'served');
    } finally {
      await source.close();
    }
  });

  it('a GET that starts again (rclone retrying) makes the stream anew: the result is that of the serve read to its end', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const count = 64;
    let serves = 0;
    // The first serve writes one chunk, then waits until its reader has gone (it is never finished).
    const source = await HttpSource.open(chunk.length * count, async (sink, signal) => {
      const serve = ++serves;
      for (let i = 0; i < count; i++) {
        if (serve === 1 && i === 1) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        if (signal.aborted) throw signal.reason;
        if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve));
      }
      sink.end();
      return serve;
    });
    try {
      const url = objectUrl(source);
      const stop = new AbortController();
      const first = await fetch(url, { signal: stop.signal });
      const reader = first.body!.getReader();
      await reader.read();
      // While one serve is read, another GET is refused (a stray reader cannot take it over).
      assert.equal((await fetch(url)).status, 409);
      stop.abort();
      await reader.cancel().catch(() => undefined);
      // Once the first reader is gone (its connection closed), a GET serves anew, as rclone's retry does.
      const second = await waitFor(async () => {
        const r = await fetch(url);
        return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : (await r.arrayBuffer(), undefined);
      }, 5000, 'a new serve after the first reader went away');
      assert.equal(second.length, chunk.length * count);
      assert.equal(await source.result(), 2);
      assert.equal(serves, 2);
      // The copy is over: no more serves, the result stays the one rclone read.
      source.freeze();
      assert.equal((await fetch(url)).status, 410);
      assert.equal(await source.result(), 2);
    } finally {
      await source.close();
    }
  });

  it("a stream that fails is the reason told, and there is no result", async () => {
    const source = await HttpSource.open(1000, async (sink) => {
      sink.write(Buffer.alloc(10));
      throw new Error('the archive could not be read: EIO');
    });
    try {
      await fetch(objectUrl(source))
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      await assert.rejects(source.result(), /could not be read: EIO/);
      assert.match(source.failure!.message, /EIO/);
    } finally {
      await source.close();
    }
  });
});

describe('an encrypted copy through the daemon', () => {
  let rclone: RcloneOptions;
  let recipient = '';
  let identityFile = '';
  before(async () => {
    const configFile = path.join(work, 'rclone.conf');
    await fs.writeFile(configFile, '[disk]\ntype = local\n');
    rclone = { configFile, secrets: await configSecrets(configFile) };
    const identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    recipient = /public key: (age1\S+)/.exec(identity)![1]!;
    identityFile = path.join(work, 'key.txt');
    await fs.writeFile(identityFile, identity, { mode: 0o600 });
  });

  it("reaches a local-disk target whole also where rclone would copy in ranges side by side (a stream is read once, from its start)", async () => {
    const file = path.join(work, 'x.tar.gz');
    await fs.writeFile(file, randomBytes(3 << 20));
    // rclone copies to a disk in four ranges at once from this size on (250 MiB by default).
    process.env.RCLONE_MULTI_THREAD_CUTOFF = '1M';
    const daemon = await RcloneDaemon.start(rclone).finally(() => delete process.env.RCLONE_MULTI_THREAD_CUTOFF);
    const object = `disk:${path.join(work, 'target', 'x.tar.gz.age')}`;
    try {
      const sent = await sendObject({ rclone, object, source: file, recipients: [recipient], callerChecks: true, daemon });
      const stored = path.join(work, 'target', 'x.tar.gz.age');
      assert.equal(execFileSync('sha256sum', [stored], { encoding: 'utf8' }).slice(0, 64), sent.sha256);
      const plain = execFileSync('sh', ['-c', 'age -d -i "$1" "$2" | sha256sum', 'sh', identityFile, stored], { encoding: 'utf8' }).slice(0, 64);
      assert.equal(plain, execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64));
    } finally {
      await daemon.close();
    }
  });

  it("a file that cannot be read fails the copy with its own reason, not rclone's broken read, and without the stream's path", async () => {
    // A directory: its size can be read, its bytes cannot (EISDIR at the first read).
    const dir = path.join(work, 'not-a-file');
    await fs.mkdir(dir);
    const daemon = await RcloneDaemon.start(rclone);
    try {
      const err = await sendObject({ rclone, object: `disk:${path.join(work, 'target', 'dir.age')}`, source: dir, recipients: [recipient], callerChecks: true, daemon }).then(
        () => assert.fail('a directory was copied'),
        (e: Error) => e,
      );
      assert.match(err.message, /EISDIR/);
      assert.doesNotMatch(err.message, /[0-9a-f]{32}/);
    } finally {
      await daemon.close();
    }
  });

  it('a malformed recipient is refused before rclone is asked for anything', async () => {
    const file = path.join(work, 'y.tar.gz');
    await fs.writeFile(file, randomBytes(2 << 20));
    const bad = `age1${'q'.repeat(58)}`; // the form of a recipient, with a wrong checksum
    const daemon = await RcloneDaemon.start(rclone);
    try {
      const object = `disk:${path.join(work, 'bad-age', 'y.age')}`;
      await assert.rejects(sendObject({ rclone, object, source: file, recipients: [bad], callerChecks: true, daemon }), /^Error: age recipient age1q{58} has a wrong checksum/);
      await assert.rejects(fs.stat(path.join(work, 'bad-age')), { code: 'ENOENT' });
    } finally {
      await daemon.close();
    }
  });
});

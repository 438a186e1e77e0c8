/**
 * SQL uploads and slow clients against the real API process, with its timeouts shortened so no test
 * waits long: HTTP_HEADERS_TIMEOUT and HTTP_REQUEST_TIMEOUT 1 s, UPLOAD_IDLE_TIMEOUT 0.5 s,
 * RESTORE_CONFIRM_TTL 2 s. A steady 10 MB/s upload that takes three times the request timeout goes
 * through; a stalled or dripping upload, slow headers and a slow JSON body are cut; no space is 507
 * with the numbers; what is not SQL is 415; unconfirmed uploads disappear by themselves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/raw-http.js';
import { Redis } from 'ioredis';
import { DB_ENV, makeFixture, REDIS_URL, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const MAX = 2 ** 52;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  status: number;
  json: any;
  ms: number;
  /** Bytes the client wrote before the answer came (or it stopped). */
  written: number;
}

/**
 * POSTs an upload written in `chunks`, one every `everyMs` (then stops writing and leaves the
 * request open if `stallAfter` is reached), and resolves with the server's answer.
 */
function paced(base: string, o: { chunks: Buffer[]; everyMs: number; length?: number; stallAfter?: number; headers?: Record<string, string>; answerFirst?: boolean }): Promise<Sent> {
  const url = new URL(base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', ...o.headers };
    if (o.length !== undefined) headers['content-length'] = o.length;
    const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/api/restores/sql?skipSafetyBackup=true', headers, agent: false }, (res) => {
      answered = true;
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || 'null'), ms: performance.now() - t0, written });
      });
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    // The headers only, then the answer: an upload refused on its declared size is answered before
    // its body, and a body written meanwhile can meet the closed connection (EPIPE) before the
    // answer is read (a flaky CI run).
    if (o.answerFirst) {
      req.flushHeaders();
      return;
    }
    (async () => {
      for (let i = 0; i < o.chunks.length && !answered; i++) {
        if (o.stallAfter !== undefined && i >= o.stallAfter) return; // keep the request open, send nothing more
        if (!req.write(o.chunks[i])) await new Promise((r) => req.once('drain', r));
        written += o.chunks[i]!.length;
        await sleep(o.everyMs);
      }
      if (!answered) req.end();
    })().catch(reject);
  });
}

/** SQL text of about `bytes`, in `chunkBytes` pieces. */
function sqlChunks(bytes: number, chunkBytes: number): Buffer[] {
  const line = "INSERT INTO patient VALUES (1, 'Anna Zürcher', 'some note text to make the line longer');\n";
  const all = Buffer.from(`-- MariaDB dump\nCREATE TABLE patient (id INT, name TEXT, note TEXT);\n${line.repeat(Math.ceil(bytes / line.length))}-- Dump completed\n`);
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += chunkBytes) chunks.push(all.subarray(i, i + chunkBytes));
  return chunks;
}

describe('SQL uploads and slow clients', () => {
  let fx: Fixture;
  let svc: Service;
  const uploads = async () => fs.readdir(path.join(fx.backupDir, 'uploads')).catch(() => [] as string[]);
  const post = (body: Buffer | string, headers: Record<string, string> = {}) =>
    request(svc.url, { method: 'POST', path: '/api/restores/sql?skipSafetyBackup=true', headers: { 'content-type': 'application/octet-stream', ...headers }, body });

  before(async () => {
    fx = await makeFixture({
      ...DB_ENV,
      MAX_UPLOAD_BYTES: String(MAX),
      HTTP_HEADERS_TIMEOUT: '1',
      HTTP_REQUEST_TIMEOUT: '1',
      UPLOAD_IDLE_TIMEOUT: '0.5',
      RESTORE_CONFIRM_TTL: '2',
      SPACE_MARGIN_MB: '1',
    });
    // The API alone: a confirmed restore stays queued, as it would while another one runs.
    svc = await startService('api', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('a steady 10 MB/s upload three times longer than HTTP_REQUEST_TIMEOUT goes through', async (t) => {
    const chunks = sqlChunks(30 * 1000 * 1000, 100 * 1000); // 100 kB every 10 ms: 10 MB/s
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const r = await paced(svc.url, { chunks, everyMs: 10, length });
    t.diagnostic(`${length} bytes in ${r.ms.toFixed(0)} ms (${(length / r.ms / 1000).toFixed(1)} MB/s)`);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.upload.bytes, length);
    assert.ok(r.ms > 3 * 1000, `took only ${r.ms} ms; the test must outlast HTTP_REQUEST_TIMEOUT`);
  });

  it('also without Content-Length (chunked)', async () => {
    const r = await paced(svc.url, { chunks: sqlChunks(300_000, 64 * 1024), everyMs: 1 });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  });

  it('an upload that stalls is cut after UPLOAD_IDLE_TIMEOUT (408) and leaves no file', async () => {
    const before = await uploads();
    const r = await paced(svc.url, { chunks: sqlChunks(1_000_000, 10_000), everyMs: 1, length: 1_000_000, stallAfter: 3 });
    assert.equal(r.status, 408, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'upload_stalled');
    assert.ok(r.ms < 2000, `${r.ms} ms`);
    // Only new files count: the sweep (RESTORE_CONFIRM_TTL 2 s) may remove earlier tests' uploads meanwhile.
    await waitFor(async () => (await uploads()).every((n) => before.includes(n)), 2000, 'the partial file to be removed');
  });

  it('an upload that drips (a few bytes at a time) is cut too', async () => {
    const drip = sqlChunks(1_000_000, 200);
    const r = await paced(svc.url, { chunks: drip, everyMs: 20, length: 1_000_000 });
    assert.equal(r.status, 408, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'upload_stalled');
    assert.ok(r.written < 64 * 1024, `${r.written} bytes got through`);
  });

  it('headers that do not arrive within HTTP_HEADERS_TIMEOUT are answered 408 and the connection closed', async () => {
    const url = new URL(svc.url);
    const socket = net.connect(Number(url.port), url.hostname);
    const t0 = performance.now();
    let raw = '';
    socket.on('data', (c) => (raw += c));
    socket.write('POST /api/restores/sql HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => socket.write('X-Slow: a\r\n'), 200);
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(drip);
    const ms = performance.now() - t0;
    assert.match(raw, /^HTTP\/1\.1 408/);
    assert.match(raw, /"code":"request_timeout"/);
    assert.ok(ms < 3000, `closed after ${ms} ms`);
  });

  it('a JSON body that does not arrive within HTTP_REQUEST_TIMEOUT is answered 408', async () => {
    const url = new URL(svc.url);
    const t0 = performance.now();
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: '/api/schedule', headers: { 'content-type': 'application/json', 'content-length': 200 } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"minute":');
      const drip = setInterval(() => req.write(' '), 100);
      req.once('response', () => clearInterval(drip));
      req.once('close', () => clearInterval(drip));
    });
    assert.equal(r.status, 408, r.body);
    assert.equal(JSON.parse(r.body).error.code, 'request_timeout');
    assert.ok(performance.now() - t0 < 3000);
  });

  it('507 with the numbers when the declared size does not fit', async () => {
    const r = await paced(svc.url, { chunks: sqlChunks(10_000, 10_000), everyMs: 1, length: 2 ** 50, stallAfter: 1 });
    assert.equal(r.status, 507, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'insufficient_storage');
    assert.match(r.json.error.message, new RegExp(`need [\\d.]+ TiB \\(${2 ** 50 + 1024 * 1024} bytes`));
    assert.match(r.json.error.message, /free [\d.]+ [KMGT]?i?B \(\d+ bytes\)/);
    const tooLarge = await paced(svc.url, { chunks: sqlChunks(10_000, 10_000), everyMs: 1, length: MAX + 1, stallAfter: 1 });
    assert.equal(tooLarge.status, 413);
  });

  it('refuses what is not SQL text or gzip of it with 415 and a message that says what it is', async () => {
    const before = await uploads();
    const zip = (await exec('sh', ['-c', `cd ${fx.root} && printf 'x' > a.txt && tar czf a.tar.gz a.txt && cat a.tar.gz | base64 -w0`])).stdout;
    const cases: [string, Buffer | string, RegExp, Record<string, string>?][] = [
      ['zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100)]), /ZIP/],
      ['volume archive', Buffer.from(zip, 'base64'), /tar archive/],
      ['gzip of binary', gzipSync(Buffer.from([0, 1, 2, 3, 0, 0, 7])), /gzip, but .*NUL/],
      ['UTF-16 text', Buffer.from('\ufeffCREATE TABLE t (id INT);', 'utf16le'), /NUL|UTF-16/],
      ['JSON', '{"stamp": "2026-01-01-0315"}', /not with an SQL comment or statement/],
      ['a form upload', '--boundary\r\nContent-Disposition: form-data; name="f"\r\n\r\nCREATE TABLE t (i INT);\r\n--boundary--', /raw request body/, { 'content-type': 'multipart/form-data; boundary=boundary' }],
      ['brotli', 'CREATE TABLE t (i INT);', /Content-Encoding/, { 'content-encoding': 'br' }],
      ['broken gzip', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), /does not decompress/],
    ];
    for (const [what, body, message, headers] of cases) {
      const r = await post(body, headers);
      assert.equal(r.status, 415, `${what}: ${r.text}`);
      assert.match(r.json.error.message, message, what);
    }
    assert.deepEqual((await uploads()).filter((n) => !before.includes(n)), [], 'nothing kept');
    // SQL as mysqldump and mariadb-dump write it, plain and gzip, is taken.
    for (const body of ['/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19\n-- Dump completed\n', '-- MySQL dump 10.13\n-- Dump completed on 2026-01-01 12:00:00\n', gzipSync('\ufeffSET NAMES utf8mb4;\n'), '\n\n# a comment\nCREATE TABLE t (i INT);']) {
      assert.equal((await post(body)).status, 201);
    }
  });

  it('unconfirmed uploads are removed when their request expires; a confirmed one waiting for its job stays', async (t) => {
    const body = '-- MariaDB dump\nCREATE TABLE t (id INT);\n-- Dump completed\n';
    const redis = new Redis(REDIS_URL);
    t.after(() => redis.disconnect());
    const forgotten = await post(body);
    const confirmed = await post(body);
    assert.equal(forgotten.status, 201);
    const c = await request(svc.url, { method: 'POST', path: `/api/restores/${confirmed.json.id}/confirm`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: confirmed.json.token }) });
    assert.equal(c.status, 202, c.text);
    const sqlFile = async (id: string) => JSON.parse((await redis.get(`${fx.prefix}:oob-restore:${id}`))!).sqlFile as string;
    const keptFile = path.basename(await sqlFile(confirmed.json.id));
    const goneFile = path.basename(await sqlFile(forgotten.json.id));
    assert.ok((await uploads()).includes(goneFile));
    // Other tests' uploads (never confirmed) go the same way.
    await waitFor(async () => (await uploads()).length === 1, 15_000, 'all but the confirmed upload to be swept');
    assert.deepEqual(await uploads(), [keptFile]);
    assert.match(svc.logs(), /removed SQL uploads whose restore request expired unconfirmed/);
    const late = await request(svc.url, { method: 'POST', path: `/api/restores/${forgotten.json.id}/confirm`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: forgotten.json.token }) });
    assert.equal(late.status, 410);
  });
});

describe('an upload on a small disk (tmpfs of 2 MiB)', () => {
  let fx: Fixture;
  let svc: Service;
  let mounted = false;
  before(async () => {
    fx = await makeFixture({ ...DB_ENV, SPACE_MARGIN_MB: '0', UPLOAD_IDLE_TIMEOUT: '5' });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', fx.backupDir]);
    mounted = true;
    svc = await startService('api', fx.env);
  });
  after(async () => {
    await svc?.stop();
    if (mounted) execFileSync('umount', [fx.backupDir]);
    await fx?.cleanup();
  });

  it('a declared size that does not fit is 507 before a byte is written', async () => {
    const r = await paced(svc.url, { chunks: sqlChunks(3_000_000, 64 * 1024), everyMs: 0, length: 3_000_000, answerFirst: true });
    assert.equal(r.status, 507, JSON.stringify(r.json));
    assert.equal(r.written, 0);
    assert.match(r.json.error.message, /need 2\.9 MiB \(3000000 bytes: 3000000 for the file \+ 0 SPACE_MARGIN_MB\), free [\d.]+ [KM]iB/);
  });

  it('a chunked upload that fills the disk is 507 and leaves nothing behind', async () => {
    const r = await paced(svc.url, { chunks: sqlChunks(3_000_000, 64 * 1024), everyMs: 0 });
    assert.equal(r.status, 507, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'insufficient_storage');
    assert.match(r.json.error.message, /ran full after \d+ bytes/);
    assert.deepEqual(await fs.readdir(path.join(fx.backupDir, 'uploads')), []);
  });
});

/**
 * The API's edges against the real API process and Redis: security headers, the Host check,
 * strict auth, JSON-only bodies, errors in one JSON shape for what Node, the body parser and the
 * router reject, and /api/jobs bounded per queue and paged. The API runs on its own (no worker),
 * so jobs it queues stay where they are.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildUi } from '../../scripts/build-ui.js';
import { UI_CSP } from '../../src/api/ui.js';
import { DB_ENV, makeFixture, REDIS_URL, startService, type Fixture, type Service } from '../helpers/service.js';
import { request, sendRaw, type RawResult } from '../helpers/raw-http.js';
import { makeVolume } from '../helpers/volumes.js';

const TOKEN = 'hardening-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function assertErrorShape(r: { status: number; headers: Record<string, unknown>; json: any }, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(typeof r.json?.error?.message, 'string', JSON.stringify(r.json));
  assert.equal(r.json.error.code, code, JSON.stringify(r.json));
}

describe('API hardening', () => {
  let fx: Fixture;
  let svc: Service;
  let redis: Redis;
  const call = (r: Parameters<typeof request>[1]) => request(svc.url, r);

  before(async () => {
    await buildUi();
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ALLOWED_HOSTS: 'backup.praxis.local', ...DB_ENV });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    svc = await startService('api', fx.env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    await svc?.stop();
    redis?.disconnect();
    await fx?.cleanup();
  });

  describe('security headers', () => {
    const expectSafe = (r: RawResult, what: string) => {
      assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(r.headers['x-frame-options'], 'DENY', what);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
      assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/, what);
      assert.equal(r.headers['x-powered-by'], undefined, what);
    };
    it('are on API answers, errors, probes, the dashboard and its assets; never X-Powered-By', async () => {
      const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };
      const answers: [string, RawResult][] = [
        ['GET /api/schedule', await call({ path: '/api/schedule', headers: AUTH })],
        ['401', await call({ path: '/api/schedule' })],
        ['404 outside /api', await call({ path: '/nothing/here' })],
        ['/healthz', await call({ path: '/healthz' })],
        ['/metrics', await call({ path: '/metrics' })],
        ['dashboard', await call({ path: '/admin/queues', headers: basic })],
        ['dashboard API', await call({ path: '/admin/queues/api/queues', headers: basic })],
        ['backup screens', await call({ path: '/' })],
        ['backup screens script', await call({ path: '/ui/app.js' })],
      ];
      const page = answers.find(([w]) => w === 'dashboard')![1];
      const asset = /src="(static\/js\/[^"]+)"/.exec(page.text)?.[1];
      assert.ok(asset, 'the dashboard page names its scripts');
      answers.push(['dashboard asset', await call({ path: `/admin/queues/${asset}`, headers: basic })]);
      for (const [what, r] of answers) {
        assert.ok(r.status < 500, `${what}: ${r.status}`);
        expectSafe(r, what);
      }
      assert.equal(answers[0]![1].headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
      // The page must still load its own scripts and styles.
      assert.equal(page.headers['content-security-policy'], "frame-ancestors 'none'");
      assert.equal(answers.find(([w]) => w === 'dashboard asset')![1].status, 200);
      // The backup screens (no token needed for the static files; their data needs it) load only their own files.
      for (const what of ['backup screens', 'backup screens script']) {
        const r = answers.find(([w]) => w === what)![1];
        assert.equal(r.status, 200, what);
        assert.equal(r.headers['content-security-policy'], UI_CSP, what);
      }
      assert.doesNotMatch(UI_CSP, /unsafe-inline|unsafe-eval|\*/);
    });

    it('an answer with a restore token is never cached: Cache-Control: no-store', async () => {
      const r = await call({ method: 'POST', path: '/api/restores/sql?skipSafetyBackup=true', headers: { ...AUTH, 'content-type': 'application/sql' }, body: 'CREATE TABLE t (id INT);\n' });
      assert.equal(r.status, 201, r.text);
      assert.equal(typeof r.json.token, 'string');
      assert.equal(r.headers['cache-control'], 'no-store');
      // Every /api answer, errors included.
      assert.equal((await call({ path: '/api/jobs', headers: AUTH })).headers['cache-control'], 'no-store');
      assert.equal((await call({ path: '/api/jobs' })).headers['cache-control'], 'no-store');
    });

    it("the dashboard's data is never cached either: jobs, failure reasons and restore summaries", async () => {
      // bull-board answered its job lists (data, failedReason with lines of a refused SQL file,
      // restore summaries) with an ETag and no Cache-Control: the browser of a shared practice PC
      // kept them in its disk cache after the Basic-auth session.
      const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };
      for (const p of ['/admin/queues/api/queues', '/admin/queues/api/queues?activeQueue=restore&status=latest', '/admin/queues/api/redis/stats']) {
        const r = await call({ path: p, headers: basic });
        assert.equal(r.status, 200, `${p}: ${r.text}`);
        assert.equal(r.headers['cache-control'], 'no-store', p);
      }
    });

    it('Node-level refusals come in the same shape, with the same headers', async () => {
      const r = await sendRaw(svc.url, 'GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n');
      assert.equal(r.status, 400);
      assert.equal(r.json?.error?.code, 'bad_request');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      const big = await sendRaw(svc.url, `GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(big.status, 431);
      assert.equal(big.json?.error?.code, 'headers_too_large');
      const expect = await call({ path: '/api/schedule', headers: { ...AUTH, expect: 'something-else' } });
      assertErrorShape(expect, 417, 'expectation_failed');
    });
  });

  describe('Host check (DNS rebinding)', () => {
    it('answers loopback names and ALLOWED_HOSTS, in any case and with a port', async () => {
      const port = new URL(svc.url).port;
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'backup.praxis.local', `BACKUP.Praxis.Local.:${port}`]) {
        const r = await call({ path: '/api/schedule', headers: { ...AUTH, host } });
        assert.equal(r.status, 200, `${host}: ${r.text}`);
      }
    });
    it('refuses any other name with 403, before auth and on every path', async () => {
      for (const p of ['/api/schedule', '/healthz', '/metrics', '/admin/queues', '/nothing']) {
        const r = await call({ path: p, headers: { ...AUTH, host: 'evil.example:3000' } });
        assertErrorShape(r, 403, 'host_not_allowed');
        assert.match(r.json.error.message, /ALLOWED_HOSTS/);
      }
      assertErrorShape(await call({ path: '/api/schedule', headers: { ...AUTH, host: '127.0.0.1.evil.example' } }), 403, 'host_not_allowed');
    });
  });

  describe('auth', () => {
    it('refuses `Bearer <token> extra`, other schemes and Basic on the API; Basic works on the dashboard only', async () => {
      assertErrorShape(await call({ path: '/api/schedule', headers: { authorization: `Bearer ${TOKEN} extra` } }), 401, 'unauthorized');
      assertErrorShape(await call({ path: '/api/schedule', headers: { authorization: `Token ${TOKEN}` } }), 401, 'unauthorized');
      const basic = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;
      const api = await call({ path: '/api/schedule', headers: { authorization: basic } });
      assertErrorShape(api, 401, 'unauthorized');
      assert.match(String(api.headers['www-authenticate']), /^Bearer/);
      assert.equal((await call({ path: '/admin/queues', headers: { authorization: basic } })).status, 200);
      assert.equal((await call({ path: '/admin/queues/api/queues', headers: { authorization: basic } })).status, 200);
    });
  });

  describe('bodies', () => {
    it('POST /api/backups refuses a body that is not JSON (415), not reading it as "all volumes"', async () => {
      const types: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}];
      for (const headers of types) {
        const r = await call({ method: 'POST', path: '/api/backups', headers: { ...AUTH, ...headers }, body: '{"volumes":["elexisdb"]}' });
        assertErrorShape(r, 415, 'unsupported_media_type');
      }
      const archive = new Queue('archive', { connection: redis, prefix: fx.prefix });
      assert.equal(await archive.count(), 0, 'nothing was queued');
      await archive.close();
    });

    it('refuses an unsupported charset or content encoding with 415, a broken gzip body with 400; gzip JSON works', async () => {
      const put = { method: 'PUT', path: '/api/schedule' };
      const schedule = JSON.stringify({ minute: '5', hour: '4', day: '*', month: '*', weekday: '*', keep: 3 });
      assertErrorShape(await call({ ...put, headers: { ...AUTH, 'content-type': 'application/json; charset=latin1' }, body: schedule }), 415, 'unsupported_charset');
      assertErrorShape(await call({ ...put, headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'compress' }, body: schedule }), 415, 'unsupported_encoding');
      assertErrorShape(await call({ ...put, headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all' }), 400, 'invalid_request');
      const ok = await call({ ...put, headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(schedule) });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.minute, '5');
    });

    it('an empty POST /api/backups (no body, no Content-Type) still means all volumes', async () => {
      const r = await call({ method: 'POST', path: '/api/backups', headers: AUTH });
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.json.jobs.map((j: any) => j.volume).sort(), ['elexisdb', 'elexisdb-sql', 'pacsdata']);
    });
  });

  describe('paths and methods', () => {
    it('bad percent-encoding in :stamp, :id or anywhere is 400 invalid_path', async () => {
      for (const p of ['/api/backups/%E0%A4%A', '/api/jobs/%zz', '/api/restores/%E0%A4%A', '/api/backups/%C0%AF/verify', '/admin/queues/api/queues/%E0%A4%A', '/%']) {
        const method = p.endsWith('/verify') ? 'POST' : 'GET';
        assertErrorShape(await call({ method, path: p, headers: AUTH }), 400, 'invalid_path');
      }
      assertErrorShape(await call({ method: 'POST', path: '/api/restores/%E0%A4%A/confirm', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"token":"x"}' }), 400, 'invalid_path');
      // bull-board decodes its query itself and answered 500 for this.
      assertErrorShape(await call({ path: '/admin/queues/api/queues?activeQueue=%zz', headers: AUTH }), 400, 'invalid_query');
      // %FF is percent-encoding, of a byte that is no UTF-8: the message says so, and what to use.
      const latin1 = await call({ path: '/api/backups/2026-11-21-0315/archives/docs/entries?dir=%FF', headers: AUTH });
      assertErrorShape(latin1, 400, 'invalid_query');
      assert.match(latin1.json.error.message, /bytes such as %FF that are no UTF-8: a name that is not UTF-8 is given by its key, e\.g\. dirKey/);
    });

    it("the dashboard API's own errors carry our code and message too (and bull-board's key for its UI)", async () => {
      const r = await call({ path: '/admin/queues/api/queues/nope/some-job', headers: AUTH });
      assertErrorShape(r, 404, 'queue_not_found');
      assert.equal(r.json.error.key, 'ERRORS.QUEUE_NOT_FOUND');
      const bad = await call({ method: 'PUT', path: '/admin/queues/api/queues/archive/pause', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{bad' });
      assertErrorShape(bad, 400, 'invalid_request');
    });

    it('a known path with another method is 405 with Allow; anything else outside /api is a JSON 404', async () => {
      const r = await call({ method: 'PATCH', path: '/api/schedule', headers: AUTH });
      assertErrorShape(r, 405, 'method_not_allowed');
      assert.equal(r.headers.allow, 'GET, PUT, DELETE, HEAD');
      assertErrorShape(await call({ method: 'OPTIONS', path: '/api/backups', headers: AUTH }), 405, 'method_not_allowed');
      assertErrorShape(await call({ method: 'DELETE', path: '/api/jobs/x', headers: AUTH }), 405, 'method_not_allowed');
      for (const p of ['/index.html', '/ui/', '/ui/nope.js', '/ui/../package.json', '/admin', '/admin/queues/../../etc/passwd', '/healthz/x']) {
        assertErrorShape(await call({ path: p, headers: AUTH }), 404, 'not_found');
      }
      assertErrorShape(await call({ method: 'POST', path: '/healthz' }), 404, 'not_found');
    });
  });

  describe('GET /api/jobs is bounded per queue and paged', () => {
    it('returns at most `limit` jobs of each queue, and the next page from `offset`', async () => {
      const verify = new Queue('verify', { connection: redis, prefix: fx.prefix });
      for (let i = 0; i < 12; i++) await verify.add('verify', { volume: `v${i}`, stamp: '2026-01-01-0315' }, { jobId: `page-test-${i}` });
      const first = await call({ path: '/api/jobs?queue=verify&limit=5', headers: AUTH });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.jobs.length, 5);
      assert.deepEqual(first.json.page, { limit: 5, offset: 0, nextOffset: 5, queues: { verify: { total: 15 } } });
      const seen = new Set<string>();
      let offset: number | null = 0;
      let pages = 0;
      while (offset !== null) {
        const r = await call({ path: `/api/jobs?queue=verify&limit=5&offset=${offset}`, headers: AUTH });
        assert.ok(r.json.jobs.length <= 5);
        for (const j of r.json.jobs) {
          assert.equal(j.queue, 'verify');
          assert.ok(!seen.has(j.id), `${j.id} on two pages`);
          seen.add(j.id);
        }
        offset = r.json.page.nextOffset;
        pages++;
      }
      assert.equal(pages, 3);
      // The 12 added plus the run's 3 verify jobs waiting for their archives.
      assert.equal(seen.size, 15);
      for (let i = 0; i < 12; i++) assert.ok(seen.has(`page-test-${i}`));

      const all = await call({ path: '/api/jobs?limit=2', headers: AUTH });
      const perQueue = new Map<string, number>();
      for (const j of all.json.jobs) perQueue.set(j.queue, (perQueue.get(j.queue) ?? 0) + 1);
      for (const [q, n] of perQueue) assert.ok(n <= 2, `${q}: ${n} jobs`);
      assert.equal(perQueue.get('verify'), 2);
      assert.equal(all.json.page.queues.verify.total, 15);
      assert.equal(all.json.page.nextOffset, 2);
      await verify.close();
    });

    it('400 names the bad parameter', async () => {
      for (const [query, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=abc', 'limit'], ['offset=-1', 'offset'], ['queue=nope', 'queue'], ['state=sleeping', 'state'], ['limit=1&limit=2', 'limit']]) {
        const r = await call({ path: `/api/jobs?${query}`, headers: AUTH });
        assertErrorShape(r, 400, 'invalid_request');
        assert.equal(r.json.error.field, field, query);
      }
    });
  });
  describe('a client that keeps sending a body after its answer', () => {
    /**
     * Headers in time, then a body of 100 MB announced and dripped a byte a second. The answer comes
     * at once; how long the server keeps the connection is what is measured (ms, or Infinity).
     */
    async function heldFor(head: string, limitMs: number): Promise<{ status: string; heldMs: number }> {
      const { port } = new URL(svc.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      let answer = '';
      socket.on('data', (b: Buffer) => (answer += b.toString('latin1')));
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`${head}Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`);
      const started = Date.now();
      const drip = setInterval(() => socket.writable && socket.write('a'), 1000);
      const limit = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), limitMs));
      const outcome = await Promise.race([closed.then(() => 'closed' as const), limit]);
      clearInterval(drip);
      socket.destroy();
      return { status: answer.split('\r\n')[0] ?? '', heldMs: outcome === 'closed' ? Date.now() - started : Infinity };
    }

    it('is refused (401, 404, an answer to GET) and cut within seconds, not held for as long as it drips', async () => {
      // Found: the answer went out, and Node read the rest of the body for as long as it came
      // (requestTimeout is off for uploads): any host on the network could hold sockets forever
      // without a token. A refused or answered request's body gets REFUSED_BODY_LINGER_MS.
      const heads = ['POST /api/backups HTTP/1.1\r\n', 'POST /admin/queues/api/queues/archive/add HTTP/1.1\r\n', 'POST /nowhere HTTP/1.1\r\n', 'GET /healthz HTTP/1.1\r\n'];
      const results = await Promise.all(heads.map((h) => heldFor(h, 20_000)));
      results.forEach((r, i) => {
        assert.match(r.status, /^HTTP\/1\.1 (401|404|200) /, heads[i]);
        assert.ok(r.heldMs < 12_000, `${heads[i]!.trim()}: ${r.status}, connection still open after ${r.heldMs} ms`);
      });
    });
  });
});

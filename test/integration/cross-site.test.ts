/**
 * Cross-site request forgery against the real API process and Redis (src/api/same-origin.ts): what
 * a page of another site makes the browser send — a `no-cors` fetch or a plain HTML form, which need
 * no preflight — is refused with 403 before anything happens, on the API without API_TOKEN (the
 * loopback-only setup, where nothing else stops it) and on the dashboard with Basic auth (which the
 * browser re-sends by itself). The service's own pages and clients that are not browsers (no Origin,
 * no Sec-Fetch-Site) go on working. The API runs on its own (no worker), so queued jobs stay where
 * they are and can be counted.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { request, type RawRequest, type RawResult } from '../helpers/raw-http.js';
import { makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

const EVIL = 'https://evil.example';
/** A `fetch(url, {method: 'POST', mode: 'no-cors'})` from another site, without a body. */
const NO_CORS = { origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'content-length': 0 };
/** A `<form method=post>` of another site, submitted. */
const FORM = { origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'content-type': 'application/x-www-form-urlencoded' };

function assertRefused(r: RawResult, what: string): void {
  assert.equal(r.status, 403, `${what}: ${r.text}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, what);
  assert.equal(r.json?.error?.code, 'cross_site_request', `${what}: ${r.text}`);
  assert.match(r.json.error.message, /^cross-site request refused: /, what);
}

describe('cross-site requests without API_TOKEN (loopback only)', () => {
  let fx: Fixture;
  let svc: Service;
  let own: string;
  const call = (r: RawRequest) => request(svc.url, r);
  /** Jobs queued by runs (the schedule queue's own delayed tick aside). */
  const runJobs = async () => {
    const r = await call({ path: '/api/jobs?limit=1000' });
    assert.equal(r.status, 200, r.text);
    return (r.json.jobs as { queue: string }[]).filter((j) => j.queue !== 'schedule');
  };
  /** A new minute, so that the next run is not refused as 409 run_exists. */
  const nextMinute = () => fx.clock.advance(60_000);

  before(async () => {
    fx = await makeFixture({ HOST: '127.0.0.1' }, { clock: TEST_START });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('api', fx.env);
    own = svc.url; // http://127.0.0.1:<port>, as the browser shows it
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('refuses a bodyless cross-site POST /api/backups (no-cors fetch, empty form) and queues nothing', async () => {
    const r = await call({ method: 'POST', path: '/api/backups', headers: NO_CORS });
    assertRefused(r, 'no-cors POST');
    assert.match(r.json.error.message, /POST \/api\/backups comes from another site, says the browser \(Sec-Fetch-Site: "cross-site"\); nothing was done/);
    assertRefused(await call({ method: 'POST', path: '/api/backups', headers: { ...NO_CORS, 'sec-fetch-mode': 'navigate' } }), 'empty form');
    assert.deepEqual(await runJobs(), []);
  });

  it('refuses form-like bodies from another site before reading them: urlencoded, text/plain, multipart', async () => {
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'volumes=elexisdb'],
      ['text/plain', '{"volumes":["elexisdb"]}'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="volumes"\r\n\r\nelexisdb\r\n--x--\r\n'],
    ] as const) {
      assertRefused(await call({ method: 'POST', path: '/api/backups', headers: { ...FORM, 'content-type': type }, body }), type);
    }
    assert.deepEqual(await runJobs(), []);
  });

  it('goes by Origin when there is no Sec-Fetch-Site (older browsers): another site, another port, another host name, null', async () => {
    const port = new URL(own).port;
    for (const origin of [EVIL, 'http://127.0.0.1:1', `https://127.0.0.1:${port}`, `http://localhost:${port}`, 'null']) {
      const r = await call({ method: 'POST', path: '/api/backups', headers: { origin, 'content-length': 0 } });
      assertRefused(r, origin);
      assert.ok(r.json.error.message.includes(JSON.stringify(origin)), r.json.error.message);
      assert.ok(r.json.error.message.includes(own), `names this server's origin: ${r.json.error.message}`);
    }
    // Another port of this host is another origin, though the same site.
    assertRefused(await call({ method: 'POST', path: '/api/backups', headers: { ...NO_CORS, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-site' } }), 'same-site');
    assert.deepEqual(await runJobs(), []);
  });

  it('refuses every route that changes something, whatever its method; reads pass', async () => {
    const before = await call({ path: '/api/schedule' });
    const json = { ...FORM, 'content-type': 'application/json' };
    const changes: RawRequest[] = [
      { method: 'POST', path: `/api/backups/${fx.clock.stamp()}/verify`, headers: NO_CORS },
      { method: 'POST', path: '/api/restores', headers: json, body: '{"stamp":"2030-06-12-1020"}' },
      { method: 'POST', path: '/api/restores/sql', headers: { ...FORM, 'content-type': 'application/sql' }, body: 'DROP DATABASE elexis;\n' },
      { method: 'POST', path: '/api/restores/abc/confirm', headers: json, body: '{"token":"x"}' },
      { method: 'PUT', path: '/api/schedule', headers: json, body: '{"minute":"0","hour":"0","day":"*","month":"*","weekday":"*","keep":1}' },
      { method: 'DELETE', path: '/api/schedule', headers: NO_CORS },
      { method: 'POST', path: '/api/schedule/preview', headers: json, body: '{"minute":"0","hour":"0","day":"*","month":"*","weekday":"*"}' },
      { method: 'PUT', path: '/api/verify-schedule', headers: json, body: '{}' },
      { method: 'DELETE', path: '/api/verify-schedule', headers: NO_CORS },
      { method: 'PUT', path: '/api/volumes/elexisdb', headers: json, body: '{"mode":"incremental"}' },
      { method: 'PATCH', path: '/api/schedule', headers: NO_CORS },
      { method: 'POST', path: '/admin/queues/api/queues/archive/add', headers: json, body: '{"name":"x","data":{}}' },
      { method: 'PUT', path: '/admin/queues/api/queues/archive/pause', headers: NO_CORS },
      { method: 'POST', path: '/nothing/here', headers: NO_CORS },
    ];
    for (const r of changes) assertRefused(await call(r), `${r.method} ${r.path}`);
    const after = await call({ path: '/api/schedule' });
    assert.deepEqual(after.json, before.json, 'the schedule is unchanged');
    assert.deepEqual(await runJobs(), []);
    const volumes = await call({ path: '/api/volumes' });
    assert.equal(volumes.json.volumes.find((v: { name: string }) => v.name === 'elexisdb').mode, 'full');
    // A read changes nothing, and the browser keeps its answer from the other site's page.
    for (const p of ['/api/schedule', '/api/jobs', '/admin/queues/api/queues']) {
      assert.equal((await call({ path: p, headers: { origin: EVIL, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' } })).status, 200, p);
    }
  });

  it("accepts the service's own pages: same-origin fetches, a same-origin form (Origin: null), older browsers with its Origin", async () => {
    const accepted: [string, Record<string, string | number>][] = [
      // What Chromium sends for a fetch of the backup screens.
      ['same-origin fetch', { origin: own, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'content-type': 'application/json' }],
      // A same-origin form under this service's Referrer-Policy: no-referrer has Origin: null.
      ['same-origin form', { origin: 'null', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', 'content-length': 0 }],
      ['typed in', { 'sec-fetch-site': 'none', 'content-length': 0 }],
      ['older browser', { origin: own, 'content-length': 0 }],
    ];
    for (const [what, headers] of accepted) {
      await nextMinute();
      const queued = (await runJobs()).length;
      const r = await call({ method: 'POST', path: '/api/backups', headers, body: headers['content-type'] ? '{}' : undefined });
      assert.equal(r.status, 202, `${what}: ${r.text}`);
      assert.ok((await runJobs()).length > queued, `${what}: the run's jobs are queued`);
    }
    // The same under another name of this host: its own origin is what the Host header says.
    const port = new URL(own).port;
    const preview = await call({
      method: 'POST',
      path: '/api/schedule/preview',
      headers: { host: `localhost:${port}`, origin: `http://localhost:${port}`, 'content-type': 'application/json' },
      body: '{"minute":"0","hour":"3","day":"*","month":"*","weekday":"*"}',
    });
    assert.equal(preview.status, 200, preview.text);
  });

  it('accepts clients that are not browsers (no Origin, no Sec-Fetch-Site), as before', async () => {
    await nextMinute();
    const jobs = (await runJobs()).length;
    const r = await call({ method: 'POST', path: '/api/backups', headers: { 'content-length': 0 } });
    assert.equal(r.status, 202, r.text);
    assert.ok((await runJobs()).length > jobs);
  });
});

describe('cross-site requests to the dashboard (API_TOKEN, Basic auth)', () => {
  const TOKEN = 'cross-site-token-0123456789abcdef';
  const BASIC = { authorization: `Basic ${Buffer.from(`operator:${TOKEN}`).toString('base64')}` };
  let fx: Fixture;
  let svc: Service;
  const call = (r: RawRequest) => request(svc.url, r);
  const add = (queue: string, headers: Record<string, string | number>, body = 'a=b') =>
    call({ method: 'POST', path: `/admin/queues/api/queues/${queue}/add`, headers: { ...BASIC, ...headers }, body });
  const jobsOf = async (queue: string) => {
    const r = await call({ path: `/api/jobs?queue=${queue}`, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, r.text);
    return r.json.jobs as { queue: string; name: string }[];
  };

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1' });
    svc = await startService('api', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it("refuses a cross-site form POST to bull-board's add, by Origin or by Sec-Fetch-Site; no job is added", async () => {
    for (const queue of ['archive', 'prune', 'verify', 'copy', 'dump', 'alerts']) {
      assertRefused(await add(queue, { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' }), `${queue}: Origin`);
      assertRefused(await add(queue, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'content-type': 'text/plain' }), `${queue}: Sec-Fetch-Site`);
      assertRefused(await add(queue, { ...FORM, 'content-type': 'multipart/form-data; boundary=x' }, '--x--\r\n'), `${queue}: multipart`);
      assert.deepEqual(await jobsOf(queue), [], queue);
    }
  });

  it("refuses bull-board's other changes from another site (pause), and the API's even with the right token", async () => {
    assertRefused(await call({ method: 'PUT', path: '/admin/queues/api/queues/archive/pause', headers: { ...BASIC, ...NO_CORS } }), 'pause');
    const jobs = await call({ path: '/api/jobs', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual(jobs.json.paused, []);
    assertRefused(await call({ method: 'POST', path: '/api/backups', headers: { authorization: `Bearer ${TOKEN}`, ...NO_CORS } }), 'API with token');
    // Without credentials a cross-site request is refused as cross-site, before auth.
    assertRefused(await call({ method: 'POST', path: '/admin/queues/api/queues/archive/add', headers: FORM, body: 'a=b' }), 'no credentials');
  });

  it("accepts the dashboard's own page and clients that are not browsers", async () => {
    const own = await add('verify', { origin: svc.url, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'content-type': 'application/json' }, '{"name":"from-the-board","data":{"volume":"elexisdb","stamp":"2024-01-01-0315"}}');
    assert.equal(own.status, 200, own.text);
    const curl = await add('verify', { 'content-type': 'application/json' }, '{"name":"from-curl","data":{"volume":"elexisdb","stamp":"2024-01-01-0315"}}');
    assert.equal(curl.status, 200, curl.text);
    assert.deepEqual((await jobsOf('verify')).map((j) => j.name).sort(), ['from-curl', 'from-the-board']);
  });
});

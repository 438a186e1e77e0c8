/**
 * Well over a thousand malformed requests, generated, sent as raw bytes over TCP to the real API
 * process: bad JSON and wrong types for every JSON route, odd and huge headers, odd content types
 * and encodings, wrong Content-Length, bad percent-encoding, wrong and unknown methods, bad query
 * parameters, bad auth and Host headers, and bytes that are not HTTP at all. Every one must get an
 * answer, none a 5xx, and every error answer must be JSON in the documented shape
 * `{"error": {"code", "message", "field"?}}`.
 *
 * The generator is seeded, so a failure names a case that can be replayed. The API runs alone (no
 * worker) with no volume, so nothing it might accept ever runs.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { buildUi } from '../../scripts/build-ui.js';
import { DB_ENV, makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { sendRaw } from '../helpers/raw-http.js';

const TOKEN = 'fuzz-token-0123456789abcdef';
const UUID = '0b9a3c55-6d59-4c8f-9a43-3f2f1f0e9a11';

interface Case {
  name: string;
  bytes: Buffer;
  head?: boolean;
}

/** Mulberry32: a small seeded PRNG, so the cases are the same on every run. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One HTTP/1.1 request as bytes. `length: 'auto'` counts the body; a number lies about it. */
function raw(method: string, path: string, headers: [string, string][], body: Buffer | string = '', length: 'auto' | number | 'none' = 'auto'): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const lines = [`${method} ${path} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (!headers.some(([k]) => k.toLowerCase() === 'host')) lines.splice(1, 0, 'Host: 127.0.0.1');
  if (!headers.some(([k]) => k.toLowerCase() === 'connection')) lines.push('Connection: close');
  if (length === 'auto' && (b.length > 0 || ['POST', 'PUT'].includes(method))) lines.push(`Content-Length: ${b.length}`);
  if (typeof length === 'number') lines.push(`Content-Length: ${length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]);
}

const AUTH: [string, string] = ['Authorization', `Bearer ${TOKEN}`];
const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

const JSON_ROUTES: [string, string][] = [
  ['PUT', '/api/schedule'],
  ['PUT', '/api/verify-schedule'],
  ['POST', '/api/backups'],
  ['POST', '/api/restores'],
  ['POST', `/api/restores/${UUID}/confirm`],
  ['POST', '/api/backups/2026-01-01-0315/verify'],
];

const ALL_PATHS = [
  '/api/schedule', '/api/verify-schedule', '/api/backups', '/api/backups/2026-01-01-0315', '/api/backups/2026-01-01-0315/verify',
  '/api/jobs', '/api/jobs/x', '/api/restores', '/api/restores/sql', `/api/restores/${UUID}`, `/api/restores/${UUID}/confirm`,
  '/healthz', '/readyz', '/metrics', '/admin/queues', '/', '/api', '/api/', '/nothing',
];

const BAD_JSON = [
  '{', '}', '{"minute":', '{"a":1,}', '[1,2', 'nul', 'null', 'true', '42', '"string"', '[]', '[{}]', '{"a":NaN}', '{"a":Infinity}',
  "{'a':1}", '{"a":1}{"b":2}', '{"a":"\u0000"}', '\ufeff{"a":1}', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, `{"a":"${'x'.repeat(70_000)}"}`,
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":1e999999}', '{"a":-0}', '{"a":"\\ud800"}', '{"a":"\\u00"}',
];

const WRONG_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e300, -1e300, '', ' ', '*', '*/0', '0-99', '60', '-1', '1,,2', '1-', '/', '5/10', '\u0000', '😀', 'x'.repeat(10_000),
  [], ['a'], [1, 2], {}, { a: 1 }, [[[]]], '../etc', '..', 'elexisdb;rm -rf /', 'A B', '2026-13-45-9999', '2026-01-01-0315\n',
];

function cases(): Case[] {
  const rnd = prng(20261201);
  const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)]!;
  const out: Case[] = [];
  const add = (name: string, bytes: Buffer, head = false) => out.push({ name, bytes, head });

  // 1. Bad JSON to every JSON route (also gzip-encoded).
  for (const [method, path] of JSON_ROUTES) {
    for (const body of BAD_JSON) {
      add(`${method} ${path} bad JSON ${body.slice(0, 20)}`, raw(method, path, [AUTH, JSON_TYPE], body));
    }
    add(`${method} ${path} bad JSON gzip`, raw(method, path, [AUTH, JSON_TYPE, ['Content-Encoding', 'gzip']], gzipSync('{"a":')));
    add(`${method} ${path} invalid UTF-8`, raw(method, path, [AUTH, JSON_TYPE], Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])));
  }

  // 2. Wrong types in every field the JSON routes know, and unknown fields.
  const fields: Record<string, string[]> = {
    '/api/schedule': ['minute', 'hour', 'day', 'month', 'weekday', 'keep'],
    '/api/verify-schedule': ['minute', 'hour', 'day', 'month', 'weekday'],
    '/api/backups': ['volumes'],
    '/api/restores': ['stamp', 'volumes', 'skipSafetyBackup'],
    [`/api/restores/${UUID}/confirm`]: ['token'],
  };
  const base: Record<string, Record<string, unknown>> = {
    '/api/schedule': { minute: '15', hour: '3', day: '*', month: '*', weekday: '1-5', keep: 10 },
    '/api/verify-schedule': { minute: '0', hour: '5', day: '*', month: '*', weekday: '0' },
    '/api/backups': {},
    '/api/restores': { stamp: '2026-01-01-0315' },
    [`/api/restores/${UUID}/confirm`]: { token: 'x' },
  };
  for (const [method, path] of JSON_ROUTES.filter(([, p]) => fields[p])) {
    for (const field of fields[path]!) {
      for (const value of WRONG_VALUES) {
        add(`${method} ${path} ${field}=${JSON.stringify(value).slice(0, 20)}`, raw(method, path, [AUTH, JSON_TYPE], JSON.stringify({ ...base[path], [field]: value })));
      }
    }
    add(`${method} ${path} unknown field`, raw(method, path, [AUTH, JSON_TYPE], JSON.stringify({ ...base[path], extra: 1 })));
  }

  // 3. Odd content types, charsets and encodings, on JSON routes and on the upload.
  const types = ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=latin1',
    'application/json; charset=utf-16', 'application/json; charset=koi8-r', 'application/json; charset="utf-8"', 'application/json;;;', ';', '', 'application/*',
    'application/json; charset=', 'text/json', 'application/vnd.api+json', 'image/png', 'application/json; boundary=x', '\u00e4/\u00f6'];
  const encodings = ['gzip', 'deflate', 'br', 'compress', 'identity', 'gzip, gzip', 'x-unknown', 'GZIP', 'zstd', ''];
  for (const [method, path] of [...JSON_ROUTES, ['POST', '/api/restores/sql'] as [string, string]]) {
    for (const type of types) add(`${method} ${path} type ${type}`, raw(method, path, [AUTH, ['Content-Type', type]], '{"minute":"1"}'));
    for (const enc of encodings) add(`${method} ${path} encoding ${enc}`, raw(method, path, [AUTH, JSON_TYPE, ['Content-Encoding', enc]], '{"minute":"1"}'));
    add(`${method} ${path} body without type`, raw(method, path, [AUTH], 'minute=1'));
    add(`${method} ${path} short body`, raw(method, path, [AUTH, JSON_TYPE], '{"a":1}', 100));
    add(`${method} ${path} chunked garbage`, Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`));
    add(`${method} ${path} both lengths`, Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`));
  }

  // 4. Uploads that are not SQL.
  const notSql: [string, Buffer][] = [
    ['zip', Buffer.from('PK\x03\x04rest of a zip file', 'latin1')],
    ['NUL', Buffer.from([0, 0, 0, 1])],
    ['png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])],
    ['json', Buffer.from('{"a":1}')],
    ['gzip garbage', Buffer.from([0x1f, 0x8b, 0xff, 0xff, 0xff])],
    ['gzip of zeros', gzipSync(Buffer.alloc(100_000))],
    ['empty', Buffer.alloc(0)],
    ['blanks', Buffer.from('   \n\n\t ')],
  ];
  for (const [what, body] of notSql) {
    for (const type of ['application/octet-stream', 'application/sql', 'application/gzip']) {
      add(`upload ${what} as ${type}`, raw('POST', '/api/restores/sql', [AUTH, ['Content-Type', type]], body));
    }
  }

  // 5. Bad percent-encoding wherever a path goes.
  const badEscapes = ['%', '%%', '%zz', '%E0%A4%A', '%C0%AF', '%ff', '%00', '%u0041', '%2', '%%32%35'];
  for (const esc of badEscapes) {
    for (const template of ['/api/backups/STAMP', '/api/backups/STAMP/verify', '/api/jobs/STAMP', '/api/restores/STAMP', '/api/restores/STAMP/confirm', '/STAMP', '/api/STAMP', '/admin/queues/STAMP', '/admin/queues/api/queues/STAMP']) {
      const method = template.endsWith('verify') || template.endsWith('confirm') ? 'POST' : 'GET';
      add(`${method} ${template} ${esc}`, raw(method, template.replace('STAMP', esc), [AUTH, ...(method === 'POST' ? [JSON_TYPE] : [])], method === 'POST' ? '{"token":"x"}' : ''));
    }
  }

  // 6. Wrong methods on every path; unknown and malformed methods.
  for (const path of ALL_PATHS) {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'LINK', 'PURGE', 'SEARCH']) {
      add(`${method} ${path}`, raw(method, path, [AUTH, ...(['POST', 'PUT', 'PATCH'].includes(method) ? [JSON_TYPE] : [])], ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : ''), method === 'HEAD');
    }
    for (const method of ['FOO', 'get', 'G ET', 'GET\u0000', '']) add(`method ${JSON.stringify(method)} ${path}`, raw(method, path, [AUTH]));
  }

  // 7. Query parameters.
  for (const query of ['limit=0', 'limit=-1', 'limit=1e3', 'limit=abc', 'limit=', 'limit=99999999999999999999', 'offset=-5', 'offset=1.5', 'state=', 'state=waiting&state=active',
    'queue=', 'queue=../../x', 'queue=archive&queue=dump', 'limit=5&offset=9007199254740993', '%zz=1', 'limit=%zz', 'state[]=active', 'a'.repeat(3000), 'limit=1&limit=2']) {
    add(`GET /api/jobs?${query.slice(0, 30)}`, raw('GET', `/api/jobs?${query}`, [AUTH]));
  }
  add('upload skipSafetyBackup=maybe', raw('POST', '/api/restores/sql?skipSafetyBackup=maybe&skipSafetyBackup=1', [AUTH, ['Content-Type', 'application/sql']], '{"a":1}'));

  // 8. Auth and Host headers.
  const auths = ['', 'Bearer', 'Bearer ', `Bearer ${TOKEN} extra`, `Bearer  ${TOKEN}`, `bearer ${TOKEN}x`, `Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}`, 'Basic !!!',
    'Basic', `Token ${TOKEN}`, 'Bearer \u00e4\u00f6\u00fc', `Bearer ${'x'.repeat(5000)}`, `Digest username="a"`, `Bearer ${TOKEN},Bearer ${TOKEN}`];
  for (const a of auths) for (const path of ['/api/schedule', '/api/jobs', '/admin/queues', '/admin/queues/api/queues']) add(`auth ${a.slice(0, 20)} ${path}`, raw('GET', path, [['Authorization', a]]));
  const hosts = ['evil.example', 'evil.example:3000', '127.0.0.1.evil.example', '', ' ', '[::1', '[zz]:80', 'localhost:99999', 'a'.repeat(300), 'local host', '127.0.0.1:abc', 'xn--mnchen-3ya.de', '@', '\u00e4.example'];
  for (const h of hosts) for (const path of ['/api/schedule', '/healthz']) add(`host ${h.slice(0, 20)} ${path}`, raw('GET', path, [AUTH, ['Host', h]]));

  // 9. Odd and huge headers.
  add('header 20 KB', raw('GET', '/api/schedule', [AUTH, ['X-Big', 'a'.repeat(20_000)]]));
  add('200 headers', raw('GET', '/api/schedule', [AUTH, ...Array.from({ length: 200 }, (_, i): [string, string] => [`X-H${i}`, 'v'])]));
  add('2000 headers', raw('GET', '/api/schedule', [AUTH, ...Array.from({ length: 2000 }, (_, i): [string, string] => [`X-H${i}`, 'v'])]));
  add('URL 20 KB', raw('GET', `/api/backups/${'a'.repeat(20_000)}`, [AUTH]));
  add('URL 8 KB', raw('GET', `/api/backups/${'a'.repeat(8_000)}`, [AUTH]));
  for (const expect of ['100-continue', 'nothing', '200-ok', '']) add(`expect ${expect}`, raw('PUT', '/api/schedule', [AUTH, JSON_TYPE, ['Expect', expect]], '{}'));
  for (const accept of ['text/html', 'application/xml', '*/*;q=x', 'image/*', '']) add(`accept ${accept}`, raw('GET', '/api/nope', [AUTH, ['Accept', accept]]));
  add('websocket upgrade', raw('GET', '/api/schedule', [AUTH, ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']]));
  add('h2c upgrade', raw('GET', '/api/schedule', [AUTH, ['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA']]));
  add('duplicate content-length', raw('PUT', '/api/schedule', [AUTH, JSON_TYPE, ['Content-Length', '2'], ['Content-Length', '3']], '{}', 'none'));
  add('negative content-length', raw('PUT', '/api/schedule', [AUTH, JSON_TYPE, ['Content-Length', '-1']], '{}', 'none'));
  add('content-length text', raw('PUT', '/api/schedule', [AUTH, JSON_TYPE, ['Content-Length', 'abc']], '{}', 'none'));
  add('huge content-length JSON', raw('PUT', '/api/schedule', [AUTH, JSON_TYPE], '{}', 10 ** 12));
  add('header without colon', Buffer.from('GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\nConnection: close\r\n\r\n'));
  add('space before colon', Buffer.from('GET /api/schedule HTTP/1.1\r\nHost : 127.0.0.1\r\nConnection: close\r\n\r\n'));
  add('obs-fold', Buffer.from(`GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n ${TOKEN}\r\nConnection: close\r\n\r\n`));
  add('NUL in header', Buffer.from('GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\u0000b\r\nConnection: close\r\n\r\n', 'latin1'));
  add('bare LF', Buffer.from(`GET /api/schedule HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${TOKEN}\nConnection: close\n\n`));
  add('no Host', Buffer.from(`GET /api/schedule HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`));
  add('two Hosts', Buffer.from(`GET /api/schedule HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`));
  add('absolute URL', raw('GET', `http://evil.example/api/schedule`, [AUTH]));
  add('asterisk', raw('OPTIONS', '*', [AUTH]));
  add('CONNECT', raw('CONNECT', 'evil.example:443', [AUTH]));
  add('raw 8-bit path', Buffer.concat([Buffer.from('GET /api/backups/'), Buffer.from([0xc3, 0xa4, 0xff]), Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)]));
  add('HTTP/1.0', Buffer.from(`GET /api/schedule HTTP/1.0\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`));
  add('HTTP/0.9', Buffer.from('GET /api/schedule\r\n\r\n'));
  add('HTTP/2.0 text', Buffer.from('GET /api/schedule HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
  add('HTTP/9.9', Buffer.from('GET /api/schedule HTTP/9.9\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
  add('h2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  add('TLS hello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03, ...Array(40).fill(0)]));
  add('only CRLF', Buffer.from('\r\n\r\n\r\n'));

  // 10. The dashboard's own API (bull-board): unknown queues and jobs, odd queries, bad bodies.
  for (const route of ['/api/queues', '/api/redis/stats', '/api/queues/nope/x', '/api/queues/archive/nope-job', '/api/queues/archive/nope-job/logs', '/api/queues/nope/metrics']) {
    for (const query of ['', '?page=abc', '?activeQueue=nope&status=weird', '?jobsPerPage=1e9', '?status[]=x', '?page=-1']) {
      add(`dashboard GET ${route}${query}`, raw('GET', `/admin/queues${route}${query}`, [AUTH]));
    }
  }
  for (const route of ['/api/queues/nope/add', '/api/queues/archive/pause', '/api/queues/nope/retry/failed', '/api/queues/archive/nope-job/update-data', '/api/queues/nope/clean/weird']) {
    for (const body of ['{bad', '[]', '"x"', 'null', '{"data":1}']) {
      add(`dashboard PUT ${route} ${body}`, raw('PUT', `/admin/queues${route}`, [AUTH, JSON_TYPE], body));
      add(`dashboard POST ${route} ${body}`, raw('POST', `/admin/queues${route}`, [AUTH, JSON_TYPE], body));
    }
  }

  // 11. Random bytes and random mutations of a good request.
  const good = raw('PUT', '/api/schedule', [AUTH, JSON_TYPE], JSON.stringify(base['/api/schedule']));
  for (let i = 0; i < 150; i++) {
    const m = Buffer.from(good);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let f = 0; f < flips; f++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    add(`mutation ${i}`, m);
  }
  for (let i = 0; i < 40; i++) add(`random bytes ${i}`, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))));
  for (let i = 0; i < 60; i++) {
    const [method, path] = pick(JSON_ROUTES);
    const body = JSON.stringify({ [pick(['minute', 'keep', 'volumes', 'stamp', 'token', 'x'])]: pick(WRONG_VALUES), [pick(['hour', 'day', 'y'])]: pick(WRONG_VALUES) });
    add(`random body ${i} ${method} ${path}`, raw(method, path, [AUTH, JSON_TYPE], body));
  }
  return out;
}

interface Outcome {
  name: string;
  status: number;
  problem?: string;
}

function judge(c: Case, r: Awaited<ReturnType<typeof sendRaw>>): Outcome {
  const o: Outcome = { name: c.name, status: r.status };
  if (r.status === 0) return { ...o, problem: `no answer (${r.closedBy === 'timeout' ? 'timed out' : 'closed'}): ${JSON.stringify(r.raw.slice(0, 80))}` };
  if (r.status >= 500) return { ...o, problem: `5xx: ${r.raw.slice(0, 300)}` };
  if (c.head || r.status === 204 || r.status === 304) return o;
  const type = r.headers['content-type'] ?? '';
  // The only answers that are not JSON by nature: the dashboard's page and /metrics (Prometheus text).
  if (r.status < 400 && (/^text\/html/.test(type) || /^text\/plain; version=0\.0\.4/.test(type))) return o;
  if (!/^application\/json/.test(type)) return { ...o, problem: `not JSON (${type}): ${r.raw.slice(0, 200)}` };
  if (r.status >= 400) {
    const e = r.json?.error;
    const keys = e && typeof e === 'object' ? Object.keys(e).sort().join(',') : '';
    // bull-board's own errors keep what its UI reads (`key`, `options`) beside our code and message.
    const exact = !c.name.startsWith('dashboard ');
    if (typeof e?.code !== 'string' || typeof e?.message !== 'string' || (exact && !['code,message', 'code,field,message'].includes(keys)) || (e.field !== undefined && typeof e.field !== 'string')) {
      return { ...o, problem: `not the error shape: ${r.raw.slice(0, 300)}` };
    }
  }
  return o;
}

describe('malformed requests', () => {
  let fx: Fixture;
  let svc: Service;
  before(async () => {
    await buildUi(); // `/` serves the backup screens (a 503 without them)
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ...DB_ENV, HTTP_REQUEST_TIMEOUT: '1', HTTP_HEADERS_TIMEOUT: '1', UPLOAD_IDLE_TIMEOUT: '0.5' });
    svc = await startService('api', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('answers every one, never with a 5xx, every error in the JSON error shape', async (t) => {
    const all = cases();
    assert.ok(all.length >= 1000, `only ${all.length} cases`);
    const outcomes: Outcome[] = [];
    let next = 0;
    // Eight connections at a time: some cases wait for a timeout (short bodies, slow uploads).
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < all.length) {
          const c = all[next++]!;
          outcomes.push(judge(c, await sendRaw(svc.url, c.bytes, 8000)));
        }
      }),
    );
    const byStatus = new Map<number, number>();
    for (const o of outcomes) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
    const fiveXX = outcomes.filter((o) => o.status >= 500).length;
    t.diagnostic(`${outcomes.length} malformed requests, ${fiveXX} x 5xx; by status: ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
    const problems = outcomes.filter((o) => o.problem);
    assert.deepEqual(problems.map((p) => `${p.name} → ${p.status}: ${p.problem!.split('\r\n')[0]}`), [], `${problems.length} bad answers`);
    assert.equal(fiveXX, 0);
    // Still serving.
    const health = await sendRaw(svc.url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(health.status, 200);
  });
});

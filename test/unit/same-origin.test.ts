/** The cross-site guard (src/api/same-origin.ts) over a table of what browsers and other clients send. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request, Response } from 'express';
import { HttpError } from '../../src/api/http-error.js';
import { sameOrigin } from '../../src/api/same-origin.js';

type Case = [what: string, method: string, headers: Record<string, string>, expected: 'pass' | 'refuse', protocol?: 'http' | 'https'];

const HOST = { host: '127.0.0.1:3000' };
const CASES: Case[] = [
  ['curl, no browser headers', 'POST', HOST, 'pass'],
  ['a read from another site', 'GET', { ...HOST, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 'pass'],
  ['HEAD from another site', 'HEAD', { ...HOST, 'sec-fetch-site': 'cross-site' }, 'pass'],
  ['OPTIONS from another site (answered 405 later)', 'OPTIONS', { ...HOST, origin: 'https://evil.example' }, 'pass'],
  ['same-origin fetch', 'POST', { ...HOST, origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' }, 'pass'],
  ['same-origin form under no-referrer (Origin: null)', 'POST', { ...HOST, origin: 'null', 'sec-fetch-site': 'same-origin' }, 'pass'],
  ['typed in / bookmark', 'POST', { ...HOST, 'sec-fetch-site': 'none' }, 'pass'],
  ['cross-site no-cors fetch', 'POST', { ...HOST, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 'refuse'],
  ['another port of this host', 'PUT', { ...HOST, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-site' }, 'refuse'],
  ['Sec-Fetch-Site alone', 'DELETE', { ...HOST, 'sec-fetch-site': 'cross-site' }, 'refuse'],
  ['an empty Sec-Fetch-Site', 'POST', { ...HOST, 'sec-fetch-site': '' }, 'refuse'],
  ['older browser, own origin', 'POST', { ...HOST, origin: 'http://127.0.0.1:3000' }, 'pass'],
  ['older browser, another site', 'POST', { ...HOST, origin: 'https://evil.example' }, 'refuse'],
  ['older browser, Origin: null', 'POST', { ...HOST, origin: 'null' }, 'refuse'],
  ['older browser, other scheme', 'POST', { ...HOST, origin: 'https://127.0.0.1:3000' }, 'refuse'],
  ['older browser, other port', 'POST', { ...HOST, origin: 'http://127.0.0.1:3001' }, 'refuse'],
  ['older browser, other name of this host', 'POST', { ...HOST, origin: 'http://localhost:3000' }, 'refuse'],
  ['Host in upper case', 'POST', { host: 'LOCALHOST:3000', origin: 'http://localhost:3000' }, 'pass'],
  ['Host with the default port', 'POST', { host: 'backup.praxis.local:80', origin: 'http://backup.praxis.local' }, 'pass'],
  ['IPv6 loopback', 'POST', { host: '[::1]:3000', origin: 'http://[::1]:3000' }, 'pass'],
  ['HTTPS: own origin', 'POST', { host: 'backup.praxis.local', origin: 'https://backup.praxis.local' }, 'pass', 'https'],
  ['HTTPS: the same name over http', 'POST', { host: 'backup.praxis.local', origin: 'http://backup.praxis.local' }, 'refuse', 'https'],
  ['no Host, an Origin', 'POST', { origin: 'http://127.0.0.1:3000' }, 'refuse'],
];

function run(method: string, headers: Record<string, string>, protocol = 'http'): unknown {
  let passed: unknown = 'not called';
  sameOrigin({ method, headers, protocol, path: '/api/backups' } as unknown as Request, {} as Response, (err?: unknown) => (passed = err));
  return passed;
}

describe('sameOrigin', () => {
  for (const [what, method, headers, expected, protocol] of CASES) {
    it(`${expected}s: ${what}`, () => {
      const result = run(method, headers, protocol);
      if (expected === 'pass') return assert.equal(result, undefined);
      assert.ok(result instanceof HttpError, String(result));
      assert.equal(result.status, 403);
      assert.equal(result.code, 'cross_site_request');
      assert.match(result.message, new RegExp(`^cross-site request refused: ${method} /api/backups `));
    });
  }

  it('names what the browser said and what this server is', () => {
    const byOrigin = run('POST', { ...HOST, origin: 'https://evil.example' }) as HttpError;
    assert.match(byOrigin.message, /comes from a page of "https:\/\/evil\.example", not of this server \(http:\/\/127\.0\.0\.1:3000\); nothing was done/);
    const bySite = run('POST', { ...HOST, 'sec-fetch-site': 'cross-site' }) as HttpError;
    assert.match(bySite.message, /comes from another site, says the browser \(Sec-Fetch-Site: "cross-site"\)/);
    const long = run('POST', { ...HOST, origin: `https://${'a'.repeat(5000)}.example` }) as HttpError;
    assert.ok(long.message.length < 600, 'a long header is cut short in the message');
  });
});

/** TLS_CERT_FILE/TLS_KEY_FILE: the API speaks HTTPS only, with a certificate the test makes. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, startService, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const TOKEN = 'tls-test-token-0123456789';

function get(url: string, ca: Buffer | undefined, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

function send(url: string, ca: Buffer, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTPS', () => {
  let fx: Fixture;
  let svc: Service;
  let cert: Buffer;

  before(async () => {
    fx = await makeFixture();
    const certFile = path.join(fx.root, 'cert.pem');
    const keyFile = path.join(fx.root, 'key.pem');
    await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile]);
    cert = await fs.readFile(certFile);
    svc = await startService('api', { ...fx.env, API_TOKEN: TOKEN, HOST: '127.0.0.1', TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile });
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it('serves the API over HTTPS with the configured certificate', async () => {
    const url = svc.url.replace('http://', 'https://');
    const r = await get(`${url}/api/schedule`, cert, TOKEN);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).cron, '15 3 * * 1-5');
    assert.equal((await get(`${url}/api/schedule`, cert)).status, 401);
  });

  it("takes https://<host> as its own origin: its own page is accepted, the same host over http is another origin", async () => {
    const url = svc.url.replace('http://', 'https://');
    const preview = (origin: string) => send(`${url}/api/schedule/preview`, cert, { origin, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, '{"minute":"0","hour":"3","day":"*","month":"*","weekday":"*"}');
    assert.equal((await preview(url)).status, 200);
    const other = await preview(svc.url);
    assert.equal(other.status, 403, other.body);
    assert.equal(JSON.parse(other.body).error.code, 'cross_site_request');
  });

  it('does not answer plain HTTP on the same port', async () => {
    await assert.rejects(fetch(`${svc.url}/healthz`));
  });

  it('is rejected by a client that does not trust the certificate', async () => {
    await assert.rejects(get(`${svc.url.replace('http://', 'https://')}/healthz`, undefined), /self.signed|certificate/i);
  });
});

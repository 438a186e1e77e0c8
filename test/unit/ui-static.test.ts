/**
 * How the API serves the backup screens (src/api/ui.ts): the page at `/`, its files under `/ui/`,
 * the UI's own CSP, no dotfiles (the build's temp files), and a clear 503 when the build is missing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { HttpError } from '../../src/api/http-error.js';
import { securityHeaders } from '../../src/api/security.js';
import { mountUi, UI_CSP } from '../../src/api/ui.js';

async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(securityHeaders('/admin/queues'));
  mountUi(app, dir);
  app.use((_req: express.Request, res: express.Response) => res.status(404).json({ error: { code: 'not_found' } }));
  app.use((err: HttpError, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(err.status ?? 500).json({ error: { code: err.code } }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('serving the backup screens', () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-ui-'));
    await fs.mkdir(path.join(root, 'built'));
    await fs.writeFile(path.join(root, 'built/index.html'), '<!doctype html><title>x</title>');
    await fs.writeFile(path.join(root, 'built/app.js'), 'void 0;');
    await fs.writeFile(path.join(root, 'built/.app.js.123.tmp'), 'half');
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  it('serves the page and its files with the UI CSP; nothing else, no dotfiles', async () => {
    const s = await serve(path.join(root, 'built'));
    try {
      const page = await fetch(`${s.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(page.headers.get('content-security-policy'), UI_CSP);
      const js = await fetch(`${s.url}/ui/app.js`);
      assert.equal(js.status, 200);
      assert.equal(js.headers.get('content-security-policy'), UI_CSP);
      for (const p of ['/ui/.app.js.123.tmp', '/ui/', '/ui/index.html/..', '/index.html', '/ui/../index.html']) {
        const r = await fetch(`${s.url}${p}`);
        assert.notEqual(r.status, 200, p);
        await r.arrayBuffer();
      }
      const other = await fetch(`${s.url}/api/x`);
      assert.equal(other.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
      await other.arrayBuffer();
    } finally {
      await s.close();
    }
  });

  it('answers 503 ui_not_built when the build is missing', async () => {
    const s = await serve(path.join(root, 'missing'));
    try {
      const r = await fetch(`${s.url}/`);
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'ui_not_built');
    } finally {
      await s.close();
    }
  });
});

/**
 * The integration tests run the service from dist/ (test/helpers/fresh-build.ts): a dist/ older
 * than src/ (a test file run with plain `node --test` after a change) would test the code from
 * before the change, and a test could pass against it. startService refuses it, naming the way out.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildIsStale } from '../helpers/fresh-build.js';
import { startService } from '../helpers/service.js';

describe('a dist/ older than src/', () => {
  let root = '';
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-stale-dist-'));
    await fs.mkdir(path.join(root, 'src'));
    await fs.mkdir(path.join(root, 'dist'));
    // A service that would start and answer nothing: the test must not get that far.
    await fs.writeFile(path.join(root, 'dist/start.js'), 'process.exit(0);\n');
    await fs.writeFile(path.join(root, 'src/start.ts'), 'export {};\n');
    await fs.writeFile(path.join(root, 'dist/.test-build-stamp'), '');
    const old = new Date(Date.now() - 3600_000);
    for (const p of ['src/start.ts', 'src', 'dist/.test-build-stamp']) await fs.utimes(path.join(root, p), old, old);
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('is not stale right after a build', () => {
    assert.equal(buildIsStale(root), false);
  });

  it('is stale once a source file changed, and the service is not started from it', async () => {
    await fs.writeFile(path.join(root, 'src/start.ts'), 'export const changed = true;\n');
    assert.equal(buildIsStale(root), true);
    await assert.rejects(startService('start', {}, { cwd: root }), /dist is older than src\/.*test\/run\.ts/);
  });
});

/** writeFileAtomic with real files: concurrent writers of one file, and the temp files a crash leaves. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isTempFileOf, tempFilesOf, writeFileAtomic } from '../../src/engine/fs/atomic.js';
import { caseDirs } from '../helpers/case-dirs.js';

const dirs = caseDirs('oob-fs-atomic-');

describe('writeFileAtomic', () => {
  it('two writers of one file (two verifications of one archive) both succeed; the file is one of them, whole', async () => {
    const file = path.join(await dirs.caseDir(), 'x.tar.gz.verify.json');
    const contents = Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ writer: i, pad: 'y'.repeat(64 * 1024) })}\n`);
    const results = await Promise.allSettled(contents.map((c) => writeFileAtomic(file, c)));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], 'no writer failed');
    assert.ok(contents.includes(await fs.readFile(file, 'utf8')), 'the file is one writer\'s complete content');
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['x.tar.gz.verify.json'], 'no temp file left');
  });

  it('names its temp files so that tempFilesOf finds a dead writer\'s, and only those', async () => {
    const dir = await dirs.caseDir();
    const file = path.join(dir, 'a.tar.gz.sha256');
    for (const n of ['a.tar.gz.sha256.0123456789ab.partial', 'a.tar.gz.sha256.partial', 'a.tar.gz.sha256', 'a.tar.gz.sha256x.0123456789ab.partial', 'b.tar.gz.sha256.0123456789ab.partial']) {
      await fs.writeFile(path.join(dir, n), '');
    }
    assert.deepEqual(await tempFilesOf(file), [path.join(dir, 'a.tar.gz.sha256.0123456789ab.partial')]);
    assert.equal(isTempFileOf('a.tar.gz.sha256.0123456789AB.partial', 'a.tar.gz.sha256'), false);
  });
});

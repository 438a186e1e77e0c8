/** restore-space.ts: what a restore of an archive or of an incremental's whole chain needs, from real files. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainSpace, safetyBackupNeed, stagingNeed } from '../../src/jobs/restore-space.js';

describe('restore space', () => {
  let dir = '';
  const put = async (file: string, bytes: number, manifest?: object) => {
    await fs.writeFile(path.join(dir, file), Buffer.alloc(bytes));
    if (manifest) await fs.writeFile(path.join(dir, `${file}.manifest.json`), JSON.stringify(manifest));
  };
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'restore-space-'));
    await put('v_1.tar.gz', 1000, { contentBytes: 5000 });
    await put('v_2.inc.tar.gz', 10, { contentBytes: 40 });
    await put('v_3.inc.tar.gz', 20, { bytesRead: 70 });
    await put('gnu.tar.gz', 300);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('an incremental counts its whole chain: the safety backup of the volume is about the chain, not the small incremental', async () => {
    const space = await chainSpace(dir, ['v_1.tar.gz', 'v_2.inc.tar.gz', 'v_3.inc.tar.gz']);
    assert.deepEqual(space, { content: 5110, archives: 1030 });
    assert.equal(stagingNeed(space, 3), Math.ceil(5110 * 1.05));
    assert.equal(safetyBackupNeed(space.archives), 1236);
  });

  it('without a manifest the archives\' size times RESTORE_SPACE_RATIO stands in for the content', async () => {
    const space = await chainSpace(dir, ['gnu.tar.gz']);
    assert.deepEqual(space, { content: undefined, archives: 300 });
    assert.equal(stagingNeed(space, 3), Math.ceil(900 * 1.05));
  });
});

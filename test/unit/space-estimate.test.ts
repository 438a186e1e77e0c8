/** The space a first archive of a volume is estimated to need (src/jobs/space-guard.ts). */
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { firstArchiveEstimate } from '../../src/jobs/space-guard.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'oob-estimate-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('firstArchiveEstimate', () => {
  it('counts data at its size and holes as the zeros they deflate to, not at their apparent size', async () => {
    const vol = path.join(dir, 'sparse');
    await mkdir(vol);
    await writeFile(path.join(vol, 'data.bin'), randomBytes(1 << 20));
    // A database file of 2 GiB with one written page: its archive is a few MB.
    const ibd = path.join(vol, 'patient.ibd');
    await writeFile(ibd, randomBytes(8192));
    await truncate(ibd, 2 ** 31);
    const estimate = await firstArchiveEstimate(vol);
    assert.ok(estimate >= (1 << 20) + 8192, `${estimate}: less than the data`);
    assert.ok(estimate < 8 * 2 ** 20, `${estimate}: the 2 GiB hole counted as data`);
  });

  it('a missing volume is 0 (the archive step says why it fails)', async () => {
    assert.equal(await firstArchiveEstimate(path.join(dir, 'missing')), 0);
  });
});

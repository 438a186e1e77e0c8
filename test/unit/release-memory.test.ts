/**
 * releaseFreedMemory (src/engine/gzip/gc-nudge.ts): after the 2 MiB Buffers of a job are freed, glibc
 * keeps their pages in the malloc heap (the next job would start on top of them); the release gives
 * them back. Run in a child started as the worker is (--expose-gc, MALLOC_ARENA_MAX=2), so that the
 * child's memory is its own: the same fragmented heap is measured after the collection alone and
 * after the trim.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { trimMalloc } from '../../src/engine/gzip/libdeflate.js';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../src/runtime/worker-process.js';

const MiB = 1024 * 1024;
const gcNudge = fileURLToPath(new URL('../../src/engine/gzip/gc-nudge.ts', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-release-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * In the child: 2 MiB buffers (as the engine's chunks) with small long-lived ones between them, so
 * that the freed big ones lie in the middle of the heap; all big ones dropped; then a collection
 * alone (what the worker did before), then releaseFreedMemory.
 */
const SCRIPT = `
import { releaseFreedMemory } from ${JSON.stringify(gcNudge)};
const rss = () => process.memoryUsage.rss();
// Freed mmapped chunks raise glibc's mmap threshold above 2 MiB (as in a worker after its first
// chunks); V8 may free them a moment after the collection.
for (let i = 0; i < 20; i++) Buffer.allocUnsafe(4 << 20).fill(1);
globalThis.gc();
await new Promise((r) => setTimeout(r, 50));
const keep = [];
let drop = [];
for (let i = 0; i < 100; i++) {
  drop.push(Buffer.allocUnsafe(2 << 20).fill(1));
  keep.push(Buffer.allocUnsafe(64 << 10).fill(1));
}
const filled = rss();
drop = [];
globalThis.gc();
await new Promise((r) => setTimeout(r, 50));
const collected = rss();
const released = await releaseFreedMemory();
console.log(JSON.stringify({ filled, collected, released, kept: keep.length }));
`;

describe('releaseFreedMemory', () => {
  it('the binding trims malloc here (glibc, built by npm ci)', () => {
    assert.equal(typeof trimMalloc(), 'boolean');
  });

  it('gives the pages of freed buffers back, which a collection alone does not', () => {
    const file = path.join(tmp, 'fragment.mts');
    fs.writeFileSync(file, SCRIPT);
    const r = spawnSync(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', file], {
      env: { ...process.env, ...WORKER_PROCESS_ENV },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      filled: number;
      collected: number;
      released: { rssBefore: number; rssAfter: number; trimmed: boolean };
    };
    // The 200 MiB of dropped buffers are still resident after the collection alone ...
    assert.ok(m.collected > m.filled - 50 * MiB, `collection alone: ${m.collected / MiB} MiB of ${m.filled / MiB}`);
    // ... and gone after the release.
    assert.equal(m.released.trimmed, true);
    assert.ok(m.released.rssAfter < m.collected - 150 * MiB, `after the release ${m.released.rssAfter / MiB} MiB, before ${m.collected / MiB}`);
  });
});

/**
 * heapNudger (gc-nudge.ts): a full collection every `every` entries while the heap in use is above
 * its threshold, then not again until the heap has grown `headroom` beyond what the collection
 * left. V8's `gc` is replaced by a counter (the nudger takes whatever `globalThis.gc` is when made).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { heapNudger } from '../../src/engine/gzip/gc-nudge.js';

describe('heapNudger', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  after(() => {
    g.gc = saved;
  });

  it('without an exposed gc it does nothing', () => {
    g.gc = undefined;
    const nudge = heapNudger(1, 0, 0);
    for (let i = 0; i < 5; i++) nudge();
  });

  it('collects every `every` entries above the limit, then waits for the headroom', () => {
    let calls = 0;
    g.gc = () => calls++;
    // Limit 1 byte: always above it; headroom 0: the threshold after a collection is the heap in use then.
    const eager = heapNudger(3, 1, 0);
    for (let i = 0; i < 9; i++) eager();
    assert.ok(calls >= 1 && calls <= 3, `collections ${calls}`);
    // A headroom far above the heap: after the first collection none follows.
    calls = 0;
    const patient = heapNudger(2, 1, 1024 * 1024 * 1024);
    for (let i = 0; i < 20; i++) patient();
    assert.equal(calls, 1);
    // A limit above the heap in use: never.
    calls = 0;
    const never = heapNudger(1, getHeapStatistics().used_heap_size + 512 * 1024 * 1024);
    for (let i = 0; i < 20; i++) never();
    assert.equal(calls, 0);
  });
});

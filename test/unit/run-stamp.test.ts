import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runStamp } from '../../src/core/run-stamp.js';

const TZ = 'Europe/Zurich';
// 2026-11-23 03:15 in Zurich (CET, UTC+1).
const tick = new Date('2026-11-23T02:15:00.000Z');

describe('runStamp', () => {
  it('a run on time is stamped with its tick', () => {
    assert.deepEqual(runStamp(tick, new Date('2026-11-23T02:15:00.250Z'), TZ), { stamp: '2026-11-23-0315', catchUpFor: null });
    assert.deepEqual(runStamp(tick, new Date('2026-11-23T02:15:59.999Z'), TZ), { stamp: '2026-11-23-0315', catchUpFor: null });
  });

  it('a run that BullMQ starts a few ms early is stamped with its tick, not the minute before', () => {
    assert.deepEqual(runStamp(tick, new Date('2026-11-23T02:14:59.989Z'), TZ), { stamp: '2026-11-23-0315', catchUpFor: null });
  });

  it('a run that starts in a later minute is stamped with that minute and names the tick it stands in for', () => {
    assert.deepEqual(runStamp(tick, new Date('2026-11-23T02:16:00.000Z'), TZ), { stamp: '2026-11-23-0316', catchUpFor: '2026-11-23-0315' });
    assert.deepEqual(runStamp(tick, new Date('2026-11-23T10:42:31.000Z'), TZ), { stamp: '2026-11-23-1142', catchUpFor: '2026-11-23-0315' });
  });
});

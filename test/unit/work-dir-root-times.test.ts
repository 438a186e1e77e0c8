/**
 * A restore's work directory written by an earlier version records the volume root's times as
 * fs.stat's milliseconds (a double) only. Recovered after an upgrade, the root gets back the
 * microseconds that double holds, not the time cut to the millisecond (found testing an upgrade:
 * a root at 02:02:02.222333444 came back as 02:02:02.222000000).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createdRootTimes } from '../../src/engine/swap/work-dir.js';

describe('root times from an earlier version\'s restore.json', () => {
  it('keeps the microseconds of fs.stat\'s milliseconds', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-root-times-'));
    try {
      for (const when of ['2022-02-02 02:02:02.222333444', '2020-01-02 03:04:05.999999999', '2026-12-03 17:46:28.000000700', '1969-07-20 20:17:40.123456789']) {
        const root = path.join(dir, 'root');
        await fs.mkdir(root, { recursive: true });
        execFileSync('touch', ['-d', `${when} UTC`, root]);
        const s = await fs.stat(root); // what the earlier version recorded
        const exact = await fs.stat(root, { bigint: true });
        const work = path.join(dir, 'work');
        await fs.mkdir(work, { recursive: true });
        await fs.writeFile(path.join(work, 'restore.json'), `${JSON.stringify({ id: 'x', createdAt: 'x', rootTimes: { atimeMs: s.atimeMs, mtimeMs: s.mtimeMs } })}\n`);
        const t = await createdRootTimes(work);
        assert.equal(t?.mtimeNs, (exact.mtimeNs / 1000n) * 1000n + ((exact.mtimeNs % 1000n) >= 500n ? 1000n : 0n), when);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

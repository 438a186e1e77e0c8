import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseArchiveName } from '../../src/core/names.js';
import { checkSizeDrop } from '../../src/jobs/size-drop.js';
import type { AppContext } from '../../src/runtime/context.js';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined } as never;

async function setup(archives: { file: string; size: number; safetyFor?: string }[]) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rev-sizedrop-'));
  const listed = archives.map((x) => ({ ...parseArchiveName(x.file)!, size: x.size, sizeDrop: null, verified: { ok: true }, level: 0, safetyFor: x.safetyFor ?? null, basedOn: [] }));
  const alerts: unknown[] = [];
  const ctx = {
    config: { sizeDropAlert: 0.5, backupDir: dir },
    store: { listArchives: async () => listed },
    notifier: { notify: (a: unknown) => alerts.push(a) },
  } as unknown as AppContext;
  return { ctx, alerts, dir };
}

describe('size-drop baseline', () => {
  it('a safety backup (of a wiped volume) is no baseline: the next small archive is still a size drop', async () => {
    const { ctx, alerts, dir } = await setup([
      { file: 'pacs_2026-11-01-0315.tar.gz', size: 1000 },
      { file: 'pacs_2026-11-02-1200.tar.gz', size: 10, safetyFor: 'r1' }, // before a single-file restore, volume wiped
      { file: 'pacs_2026-11-03-0315.tar.gz', size: 10 }, // still wiped
    ]);
    try {
      assert.equal(await checkSizeDrop(ctx, { volume: 'pacs', stamp: '2026-11-03-0315', file: 'pacs_2026-11-03-0315.tar.gz' }, silent), true);
      assert.equal(alerts.length, 1);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeScheduleProcessor } from '../../src/jobs/schedule-job.js';
import type { AppContext } from '../../src/runtime/context.js';

const archive = (volume: string, stamp: string, safetyFor: string | null = null) => ({ volume, stamp, file: `${volume}_${stamp}.tar.gz`, kind: 'volume', safetyFor });

describe('verify schedule: the newest set', () => {
  it('is the newest run\'s set, not a restore\'s safety backups made since', async () => {
    const added: unknown[] = [];
    const logger = { child: () => logger, info: () => undefined, warn: () => undefined, error: () => undefined };
    const ctx = {
      logger,
      store: {
        listSets: async () => [
          { stamp: '2026-11-22-1410', archives: [archive('pacs', '2026-11-22-1410', 'r1'), archive('elexisdb', '2026-11-22-1410', 'r1')] },
          { stamp: '2026-11-22-0315', archives: [archive('pacs', '2026-11-22-0315'), archive('elexisdb', '2026-11-22-0315')] },
        ],
      },
      queues: { verify: { add: async (_n: string, data: unknown) => void added.push(data) } },
    } as unknown as AppContext;
    const r = (await makeScheduleProcessor(ctx)({ name: 'verify-newest', data: {} } as never)) as { stamp: string };
    assert.equal(r.stamp, '2026-11-22-0315');
    assert.equal(added.length, 2);
  });
});

/**
 * bull-board over every queue of the service at /admin/queues. bull-board has no auth of its own,
 * so it is mounted behind the same token check as the API, accepting Basic auth with the token as
 * password so a browser can log in. DASHBOARD_READ_ONLY hides retry/clean/remove buttons.
 *
 * Two queues are read-only whatever DASHBOARD_READ_ONLY says, because bull-board's API can do to a
 * queue anything its buttons can (retry one or all, add a copy, clean, remove, pause):
 * - `restore`: a restore deletes live data; it runs only as the job its confirmation queued, and
 *   its history (shown by GET /api/restores/:id) is the practice's record of what was replaced.
 *   The processor refuses anything else too (../workers/restore-job.ts); this is the first fence.
 * - `schedule`: it holds the job schedulers. Removing `backup-run` by hand would leave the API
 *   saying "enabled" while nothing fires; the schedule is changed through PUT /api/schedule only.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type express from 'express';
import type { AppContext } from '../runtime/context.js';
import { QUEUE_NAMES, type QueueName } from '../stores/queues.js';
import { requireToken } from './auth.js';
import { dashboardInput } from './dashboard-input.js';

export const DASHBOARD_PATH = '/admin/queues';

/** Queues the dashboard never changes. */
export const ALWAYS_READ_ONLY: readonly QueueName[] = ['restore', 'schedule'];

export function mountDashboard(app: express.Express, ctx: AppContext): void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const adapter = (name: QueueName) => {
    const readOnlyMode = ctx.config.dashboardReadOnly || ALWAYS_READ_ONLY.includes(name);
    return new BullMQAdapter(ctx.queues[name], { readOnlyMode, allowRetries: !readOnlyMode });
  };
  createBullBoard({
    queues: QUEUE_NAMES.map(adapter),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'OOB backup' } },
  });
  const board = serverAdapter.getRouter() as express.Express;
  board.disable('x-powered-by'); // bull-board's own Express app would announce itself in every answer
  // Bodies bull-board would pass on to BullMQ unchecked are refused first (dashboard-input.ts).
  app.use(DASHBOARD_PATH, requireToken(ctx.config.apiToken, { basicRealm: 'oob-backup' }), dashboardInput(ctx), board);
}

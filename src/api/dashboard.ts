/**
 * bull-board over every queue of the service at /admin/queues. bull-board has no auth of its own,
 * so it is mounted behind the same token check as the API, accepting Basic auth with the token as
 * password so a browser can log in. DASHBOARD_READ_ONLY hides retry/clean/remove buttons.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type express from 'express';
import type { AppContext } from '../context.js';
import { QUEUE_NAMES } from '../lib/queues.js';
import { requireToken } from './auth.js';

export const DASHBOARD_PATH = '/admin/queues';

export function mountDashboard(app: express.Express, ctx: AppContext): void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const readOnlyMode = ctx.config.dashboardReadOnly;
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(ctx.queues[name], { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'OOB backup' } },
  });
  const board = serverAdapter.getRouter() as express.Express;
  board.disable('x-powered-by'); // bull-board's own Express app would announce itself in every answer
  app.use(DASHBOARD_PATH, requireToken(ctx.config.apiToken, { basicRealm: 'oob-backup' }), board);
}

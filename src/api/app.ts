/**
 * The Express app: health probes (no auth, they reveal nothing), then the token-protected API.
 * One error middleware turns every failure into `{error: {code, message, field?}}`.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppContext } from '../context.js';
import { METRICS_CONTENT_TYPE, metricsText } from '../lib/metrics.js';
import { requireToken } from './auth.js';
import { mountDashboard } from './dashboard.js';
import { adapt } from './handler.js';
import { healthz, readyz } from './handlers/health.js';
import { HttpError } from './http-error.js';
import { API_ROUTES } from './routes.js';

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.get('/healthz', adapt(ctx, healthz));
  app.get('/readyz', adapt(ctx, readyz));
  // Unauthenticated like the probes: it shows volume names, sizes and counts, nothing else.
  app.get('/metrics', (_req, res, next) => {
    metricsText(ctx).then((text) => res.type(METRICS_CONTENT_TYPE).send(text), next);
  });

  const api = express.Router();
  api.use(requireToken(ctx.config.apiToken));
  api.use(express.json({ limit: '64kb' }));
  for (const r of API_ROUTES) api[r.method](r.path.replace(/^\/api/, ''), adapt(ctx, r.handler));
  api.use((req, _res, next) => next(new HttpError(404, 'not_found', `no such endpoint: ${req.method} ${req.originalUrl}`)));
  app.use('/api', api);
  mountDashboard(app, ctx);

  app.use(errorMiddleware(ctx));
  return app;
}

function errorMiddleware(ctx: AppContext) {
  const log = ctx.logger.child({ module: 'api' });
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: `request body is not valid JSON: ${e.message}`, field: 'body' } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: 'request body too large' } });
      return;
    }
    log.error({ err: e.message, method: req.method, url: req.originalUrl }, 'request failed');
    res.status(500).json({ error: { code: 'internal', message: 'internal error; see the service log' } });
  };
}

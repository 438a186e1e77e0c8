/**
 * api/ — the REST API and the dashboard: routes, thin handlers, request schemas, auth, errors. It
 * adds jobs, it never runs them. May import: runtime/, stores/, db/, engine/, core/. May not
 * import: jobs/ (checked by `npm run lint`, .dependency-cruiser.cjs).
 *
 * The Express app, in the order a request meets it:
 * 1. rules for every request: the rest of a body not read once the request is answered is dropped
 *    for a few seconds only (request-rules.ts), security headers, the Host check (DNS rebinding), a valid URL, and
 *    for a request that changes something, that a browser did not send it from another site (CSRF);
 * 2. health probes and metrics (no auth, they reveal nothing);
 * 3. the token-protected API: JSON only, bodies within HTTP_REQUEST_TIMEOUT, Redis checked before
 *    a route that needs it (503 at once instead of a hang), 405 for a known path with the wrong
 *    method, JSON 404 for the rest;
 * 4. the dashboard and the backup screens (`/`, `/ui/…`; static, their data comes from /api), then a
 *    JSON 404 for any other path;
 * 5. one error middleware (errors.ts) that renders every failure as `{error: {code, message, field?}}`.
 */
import express from 'express';
import type { AppContext } from '../runtime/context.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { metricsText } from './metrics-sources.js';
import { requireToken } from './auth.js';
import { dashboardErrorShape } from './dashboard-errors.js';
import { DASHBOARD_PATH, mountDashboard } from './dashboard.js';
import { errorMiddleware } from './errors.js';
import { adapt } from './handler.js';
import { healthz, readyz } from './handlers/health.js';
import { hostCheck } from './host-check.js';
import { HttpError, notFound } from './http-error.js';
import { redisGate } from './redis-gate.js';
import { sameOrigin } from './same-origin.js';
import { bodyDeadline, boundedDrain, requireJsonBody, validUrl } from './request-rules.js';
import { API_ROUTES, UPLOAD_PATH } from './routes.js';
import { noStore, securityHeaders } from './security.js';
import { mountUi } from './ui.js';

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);
  // First, so that every answer before the body was read (401, 403, 404 …) bounds the rest of it.
  app.use(boundedDrain);
  app.use(securityHeaders(DASHBOARD_PATH));
  app.use(hostCheck(ctx.config.allowedHosts));
  app.use(validUrl);
  app.use(sameOrigin);

  app.get('/healthz', adapt(ctx, healthz));
  app.get('/readyz', adapt(ctx, readyz));
  // Unauthenticated like the probes: it shows volume names, sizes and counts, nothing else. It
  // PINGs first: it would otherwise wait out each of its Redis reads when Redis hangs.
  app.get('/metrics', redisGate(ctx.redis, { probeReads: true }), (_req, res, next) => {
    metricsText(ctx).then((text) => res.type(METRICS_CONTENT_TYPE).send(text), next);
  });

  app.use('/api', apiRouter(ctx));
  // Express would answer OPTIONS on the dashboard's paths with a text list of methods.
  app.use((req, _res, next) => (req.method === 'OPTIONS' ? next(new HttpError(405, 'method_not_allowed', 'OPTIONS is not supported here')) : next()));
  // Its job lists carry what /api's do (job data, failure reasons, restore summaries): not kept in
  // the browser's cache of a shared practice PC after the session, like every /api answer.
  app.use(`${DASHBOARD_PATH}/api`, noStore, redisGate(ctx.redis, { probeReads: true }), dashboardErrorShape);
  mountDashboard(app, ctx);
  mountUi(app);

  app.use((req, _res, next) => next(notFound(`no such endpoint: ${req.method} ${req.path}`)));
  app.use(errorMiddleware(ctx.logger, ctx.redis));
  return app;
}

function apiRouter(ctx: AppContext): express.Router {
  const api = express.Router();
  api.use(noStore);
  api.use(requireToken(ctx.config.apiToken));
  // The SQL upload streams its raw body and has its own limits (lib/uploads.ts).
  const notUpload = (mw: express.RequestHandler): express.RequestHandler => (req, res, next) =>
    req.path === UPLOAD_PATH ? next() : mw(req, res, next);
  api.use(notUpload(bodyDeadline(ctx.config.httpRequestTimeoutMs)));
  api.use(notUpload(requireJsonBody));
  api.use(notUpload(express.json({ limit: '64kb' })));
  const gate = redisGate(ctx.redis);
  for (const r of API_ROUTES) {
    api[r.method](stripApi(r.path), ...(r.redis === false ? [] : [gate]), adapt(ctx, r.handler));
  }
  // A known path with a method it does not have: 405 with Allow (also for OPTIONS, as there is
  // no cross-origin use of this API to negotiate).
  const methods = new Map<string, string[]>();
  for (const r of API_ROUTES) methods.set(stripApi(r.path), [...(methods.get(stripApi(r.path)) ?? []), r.method.toUpperCase()]);
  for (const [path, allowed] of methods) {
    const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', ');
    api.all(path, (req, _res, next) =>
      next(new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.baseUrl}${req.path}; allowed: ${allow}`, undefined, { Allow: allow })),
    );
  }
  api.use((req, _res, next) => next(notFound(`no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}`)));
  return api;
}

function stripApi(path: string): string {
  return path.replace(/^\/api/, '');
}

/**
 * Starts the API's server — HTTPS only when TLS_CERT_FILE/TLS_KEY_FILE are set (no plain-HTTP
 * listener beside it, so nothing falls back to cleartext) — and closes it gracefully.
 *
 * The API works on its own Redis connection, which fails fast instead of waiting for a Redis that
 * is away (see createApiRedis); the context it is handed (shared with the workers in `npm start`)
 * keeps its patient one.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createContext, type AppContext } from '../context.js';
import { createApp } from './app.js';
import { attachRawErrorAnswers } from './raw-errors.js';

export interface RunningApi {
  server: http.Server | https.Server;
  port: number;
  close(): Promise<void>;
}

export async function startApi(ctx: AppContext): Promise<RunningApi> {
  const apiCtx = await createContext(ctx.config, ctx.logger, ctx.redisUrl, { failFast: true });
  const app = createApp(apiCtx);
  const { config } = ctx;
  const options: http.ServerOptions = {
    // Node answers a request without Host with a bare 400; host-check.ts does it in our shape.
    requireHostHeader: false,
  };
  const tls = config.tls;
  const server = tls
    ? https.createServer({ ...options, cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile), minVersion: 'TLSv1.2' }, app)
    : http.createServer(options, app);
  attachRawErrorAnswers(server, ctx.logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.logger.info(
    { module: 'api', host: config.host, port, protocol: tls ? 'https' : 'http', auth: config.apiToken ? 'token' : 'none (loopback only)', allowedHosts: config.allowedHosts },
    'API listening',
  );
  return {
    server,
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await apiCtx.close();
    },
  };
}

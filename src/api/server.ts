/**
 * Starts the API's server — HTTPS only when TLS_CERT_FILE/TLS_KEY_FILE are set (no plain-HTTP
 * listener beside it, so nothing falls back to cleartext) — and closes it gracefully.
 *
 * The API works on its own Redis connection, which fails fast instead of waiting for a Redis that
 * is away (see createApiRedis); the context it is handed (shared with the workers in `npm start`)
 * keeps its patient one.
 *
 * Timeouts. Node cuts every request after `requestTimeout` (300 s by default), which cut SQL uploads
 * at about 3 GB on a 10 MB/s link. So that one is off, and slow clients are bounded per phase:
 * headers within HTTP_HEADERS_TIMEOUT (Node's headersTimeout, against slowloris), other bodies within
 * HTTP_REQUEST_TIMEOUT (request-rules.ts), an upload as long as it keeps moving (lib/uploads.ts).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createContext, type AppContext } from '../runtime/context.js';
import { startUploadSweep } from './upload-sweep.js';
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
  const timeouts: http.ServerOptions = {
    // Node answers a request without Host with a bare 400; host-check.ts does it in our shape.
    requireHostHeader: false,
    requestTimeout: 0,
    headersTimeout: config.httpHeadersTimeoutMs,
    // How often Node checks headersTimeout; its 30 s default would let a short limit run far over.
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(config.httpHeadersTimeoutMs / 2))),
  };
  const tls = config.tls;
  const server = tls
    ? https.createServer({ ...timeouts, cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile), minVersion: 'TLSv1.2' }, app)
    : http.createServer(timeouts, app);
  attachRawErrorAnswers(server, ctx.logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const stopSweep = startUploadSweep(apiCtx);
  const port = (server.address() as AddressInfo).port;
  ctx.logger.info(
    { module: 'api', host: config.host, port, protocol: tls ? 'https' : 'http', auth: config.apiToken ? 'token' : 'none (loopback only)', allowedHosts: config.allowedHosts },
    'API listening',
  );
  return {
    server,
    port,
    close: async () => {
      stopSweep();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await apiCtx.close();
    },
  };
}

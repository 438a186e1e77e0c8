/**
 * Starts the API's server — HTTPS only when TLS_CERT_FILE/TLS_KEY_FILE are set (no plain-HTTP
 * listener beside it, so nothing falls back to cleartext) — and closes it gracefully.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../context.js';
import { createApp } from './app.js';

export interface RunningApi {
  server: http.Server | https.Server;
  port: number;
  close(): Promise<void>;
}

export async function startApi(ctx: AppContext): Promise<RunningApi> {
  const app = createApp(ctx);
  const tls = ctx.config.tls;
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile), minVersion: 'TLSv1.2' }, app)
    : http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ctx.config.port, ctx.config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.logger.info({ module: 'api', host: ctx.config.host, port, protocol: tls ? 'https' : 'http', auth: ctx.config.apiToken ? 'token' : 'none (loopback only)' }, 'API listening');
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

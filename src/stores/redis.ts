/**
 * ioredis connections. BullMQ blocks on worker connections, so they need `maxRetriesPerRequest: null`;
 * workers and the boot code use it, so a Redis restart makes their commands wait for the reconnect
 * instead of failing. The API answers clients and must not wait: it has its own connection
 * (createApiRedis below).
 * RESP2 is the conservative protocol for BullMQ's Lua scripts (ioredis 6 defaults to RESP3).
 *
 * What a Redis restart looks like from here (tested in test/integration/redis-restart.test.ts): every
 * connection reconnects on its own with the back-off below, commands issued meanwhile wait in
 * ioredis' offline queue (so /readyz, which bounds its PING, says 503 and every other request just
 * takes longer), the ready check waits until Redis has loaded its AOF, and BullMQ's workers resume
 * fetching. Nothing needs a process restart. Job and volume locks survive a short outage: their
 * TTLs are absolute times in Redis, and the renewals sent meanwhile run after the reconnect.
 */
import fs from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/** TLS (`rediss://`) is taken from the URL; `caFile` adds a private CA to trust. */
export function createRedis(url: string, extra: RedisOptions = {}, caFile?: string): Redis {
  const tls = url.startsWith('rediss://') ? { ...(caFile ? { ca: fs.readFileSync(caFile) } : {}) } : undefined;
  return new Redis(url, {
    ...(tls ? { tls } : {}),
    maxRetriesPerRequest: null,
    protocol: 2,
    enableReadyCheck: true,
    // Back off up to 5 s between reconnect attempts, forever: workers must outlive a Redis restart.
    retryStrategy: (times) => Math.min(times * 200, 5000),
    // After a failover the old primary answers writes with READONLY: reconnect (re-resolving the
    // host name) and resend the command instead of failing it.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    ...extra,
  });
}

/** How long the API waits for one Redis reply before it answers 503: well inside the 2 s promised. */
export const API_REDIS_TIMEOUT_MS = 1000;

/**
 * The API's own connection fails fast instead of waiting for Redis: a client that got 503 must be
 * able to trust that nothing it asked for happens later. So, unlike the workers' connections:
 * - `enableOfflineQueue: false`: a command issued while Redis is away is rejected at once, not
 *   parked in ioredis' offline queue and sent after the reconnect (a "run now" the user gave up on
 *   would otherwise start minutes later);
 * - `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: 0`: commands that were in
 *   flight when the connection dropped are failed, not sent again on the new connection;
 * - `commandTimeout`: a Redis that accepts the connection but does not answer (frozen, swapping,
 *   a half-open TCP connection) fails the command after API_REDIS_TIMEOUT_MS.
 * It still reconnects by itself, so the API is back as soon as Redis is.
 */
export function createApiRedis(url: string, caFile?: string): Redis {
  return createRedis(
    url,
    { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0, commandTimeout: API_REDIS_TIMEOUT_MS },
    caFile,
  );
}

/**
 * ioredis connections. BullMQ blocks on worker connections, so they need `maxRetriesPerRequest: null`;
 * we use it everywhere so a Redis restart makes commands wait for the reconnect instead of failing.
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

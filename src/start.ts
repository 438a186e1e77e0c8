/**
 * `npm start`: the API (and the schedulers' sync) in this process, one worker in a child process
 * (runtime/worker-child.ts), and its own Redis if none is there.
 */
import { startApi } from './api/server.js';
import { DEFAULT_REDIS_URL } from './runtime/config.js';
import { bootConfig, fail, onShutdown, openContext } from './runtime/boot.js';
import { ensureRedis, type RedisEndpoint } from './runtime/embedded-redis.js';
import { startWorkerChild } from './runtime/worker-child.js';

const { config, logger } = bootConfig('all-in-one');
let redis: RedisEndpoint;
try {
  redis = config.redisUrl
    ? { url: config.redisUrl, embedded: false, stop: async () => {} }
    : await ensureRedis({ dataDir: config.dataDir, logger, port: Number(new URL(DEFAULT_REDIS_URL).port) });
} catch (err) {
  fail((err as Error).message);
}
const ctx = await openContext(config, logger, redis.url, { http: true });
const worker = startWorkerChild(redis.url, logger);
// A port in use (EADDRINUSE) or a bad certificate: the worker child must not run on without us.
const api = await startApi(ctx).catch(async (err: Error) => {
  await worker.stop().catch(() => undefined);
  fail(`the API could not start, nothing runs: ${err.message}`);
});
onShutdown(logger, config.shutdownTimeoutMs, [
  // The listener closes at once; requests in flight may finish while the workers wind down.
  { name: 'api', run: () => api.close(), limitMs: Math.min(5000, config.shutdownTimeoutMs) },
  // The child has its own SHUTDOWN_TIMEOUT and hard deadline; waiting for it here is bounded by ours.
  { name: 'worker process', run: () => worker.stop() },
  { name: 'redis connections', run: () => ctx.close(), limitMs: 5000 },
  // Last: everything before still talks to it. stop() waits for redis-server to write its AOF.
  { name: 'embedded redis', run: () => redis.stop() },
]);

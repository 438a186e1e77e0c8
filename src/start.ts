/** `npm start`: API, scheduler and one worker in one process, with its own Redis if none is there. */
import { startApi } from './api/server.js';
import { DEFAULT_REDIS_URL } from './runtime/config.js';
import { bootConfig, fail, onShutdown, openContext } from './runtime/boot.js';
import { ensureRedis, type RedisEndpoint } from './runtime/embedded-redis.js';
import { startWorkers } from './jobs/workers.js';

const { config, logger } = bootConfig('all-in-one');
let redis: RedisEndpoint;
try {
  redis = config.redisUrl
    ? { url: config.redisUrl, embedded: false, stop: async () => {} }
    : await ensureRedis({ dataDir: config.dataDir, logger, port: Number(new URL(DEFAULT_REDIS_URL).port) });
} catch (err) {
  fail((err as Error).message);
}
const ctx = await openContext(config, logger, redis.url);
const workers = await startWorkers(ctx);
const api = await startApi(ctx);
onShutdown(logger, config.shutdownTimeoutMs, [
  // The listener closes at once; requests in flight may finish while the workers wind down.
  { name: 'api', run: () => api.close(), limitMs: Math.min(5000, config.shutdownTimeoutMs) },
  { name: 'workers', run: (timeoutMs) => workers.close(timeoutMs) },
  { name: 'redis connections', run: () => ctx.close(), limitMs: 5000 },
  // Last: everything before still talks to it. stop() waits for redis-server to write its AOF.
  { name: 'embedded redis', run: () => redis.stop() },
]);

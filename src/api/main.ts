/** `npm run start:api`: the REST API (and dashboard); it adds jobs but runs none. */
import { bootConfig, onShutdown, openContext } from '../runtime/boot.js';
import { DEFAULT_REDIS_URL } from '../runtime/config.js';
import { startApi } from './server.js';

const { config, logger } = bootConfig('api');
const ctx = await openContext(config, logger, config.redisUrl ?? DEFAULT_REDIS_URL, { http: true });
const api = await startApi(ctx);
onShutdown(logger, config.shutdownTimeoutMs, [
  // Stops accepting at once; requests in flight get until SHUTDOWN_TIMEOUT to finish.
  { name: 'api', run: () => api.close(), limitMs: config.shutdownTimeoutMs },
  { name: 'redis connections', run: () => ctx.close(), limitMs: 5000 },
]);

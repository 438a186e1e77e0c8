/** `npm run start:worker`: a worker process; start as many as you like against one Redis. */
import { DEFAULT_REDIS_URL } from '../runtime/config.js';
import { bootConfig, onShutdown, openContext } from '../runtime/boot.js';
import { lowerPriority } from '../runtime/priority.js';
import { exitWithParent } from '../runtime/worker-child.js';
import { startWorkers } from './workers.js';

const { config, logger } = bootConfig('worker');
exitWithParent(logger);
// Before any work starts: the threads it creates inherit the niceness (also as `npm start`'s
// worker child: the API stays in the parent, at normal priority).
lowerPriority(config.workerNice, logger);
const ctx = await openContext(config, logger, config.redisUrl ?? DEFAULT_REDIS_URL);
const workers = await startWorkers(ctx);
onShutdown(logger, config.shutdownTimeoutMs, [
  { name: 'workers', run: (timeoutMs) => workers.close(timeoutMs) },
  { name: 'redis connections', run: () => ctx.close(), limitMs: 5000 },
]);

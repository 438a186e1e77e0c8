/**
 * A process that only registers onShutdown with steps that log when they run, so a test can check
 * the order, the per-step limit and the exit code without Redis. Argument: SHUTDOWN_TIMEOUT in ms.
 */
import { createLogger } from '../../src/runtime/logger.js';
import { onShutdown } from '../../src/runtime/boot.js';

const logger = createLogger('info', { role: 'shutdown-child' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const step = (name: string, ms: number, limitMs?: number) => ({
  name,
  limitMs,
  run: async (timeoutMs: number) => {
    logger.info({ step: name, timeoutMs }, 'step begins');
    await sleep(ms);
    logger.info({ step: name }, 'step ends');
  },
});
onShutdown(logger, Number(process.argv[2] ?? 2000), [
  step('api', 50),
  // Hangs far past its limit: the next steps must still run, in time.
  step('workers', 60_000, 1000),
  step('redis connections', 50),
  step('embedded redis', 50),
]);
setInterval(() => undefined, 1000);
logger.info('ready');

/**
 * What every entry point does first and last: validate the environment (a bad value stops the
 * process with one line naming it), open the shared context, re-sync the job schedulers with the
 * stored schedule, and on SIGTERM/SIGINT close everything in order.
 */
import { ConfigError, loadConfig, withholdSecrets, type Config } from './config.js';
import { createContext, type AppContext } from './context.js';
import { createLogger, type Logger } from './logger.js';
import { placeProblems } from './places.js';
import { markScheduleStart, reconcileSchedulers } from '../stores/schedule-store.js';

export function bootConfig(role: string): { config: Config; logger: Logger } {
  stopQuietlyOnUncaught();
  try {
    const config = loadConfig();
    withholdSecrets();
    return { config, logger: createLogger(config.logLevel, { role }) };
  } catch (err) {
    if (err instanceof ConfigError) fail(`configuration error: ${err.message}`, 2);
    throw err;
  }
}

/** `o.http`: this process serves the API (its TLS files are checked too). */
export async function openContext(config: Config, logger: Logger, redisUrl: string, o: { http?: boolean } = {}): Promise<AppContext> {
  const misplaced = await placeProblems(config, o);
  if (misplaced.length) fail(`configuration error: ${misplaced.join('; ')}`, 2);
  const ctx = await createContext(config, logger, redisUrl);
  await markScheduleStart(ctx.redis, config.queuePrefix, { ifUnset: true, now: ctx.clock.now() });
  const repairs = await reconcileSchedulers(ctx.queues.schedule, await ctx.schedules.get(), await ctx.verifySchedules.get(), config.timezone);
  if (Object.keys(repairs).length) logger.info({ module: 'schedule', repairs }, 'job schedulers synced with the stored schedule');
  // Settings saved before their copies existed (an upgrade), or a copy deleted: copied now.
  await syncSettingsCopies(ctx).catch((err: Error) => logger.warn({ module: 'schedule', err: err.message }, 'could not write the settings\' copies beside the backups'));
  return ctx;
}

/** The settings' copies in BACKUP_DIR made to match Redis (stores/settings-mirror.ts); at boot and in every worker's maintenance. */
export async function syncSettingsCopies(ctx: AppContext): Promise<void> {
  await Promise.all([ctx.schedules.syncMirror(), ctx.verifySchedules.syncMirror(), ctx.volumeModes.syncMirror()]);
}

/**
 * An error nobody caught (a Redis refusing the password at start, a bug) stops the process as
 * before, but is told by its stack only. Node's own report prints the error object with every
 * property, and ioredis puts the failed command on its errors: `AUTH <user> <password>` showed the
 * Redis password on stderr, where the container's log keeps it.
 */
function stopQuietlyOnUncaught(): void {
  process.on('uncaughtException', (err: unknown, origin) => {
    const told = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : typeof err === 'string' ? err : 'a value that is not an Error';
    fail(`stopped by an unexpected error (${origin}): ${told}`);
  });
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`oob-backup: ${message}\n`);
  process.exit(code);
}

export interface ShutdownStep {
  name: string;
  /** Gets the shutdown timeout (SHUTDOWN_TIMEOUT); only the workers' step uses it. */
  run(timeoutMs: number): Promise<void>;
  /**
   * Stop waiting for this step after this long and go on with the next (the step keeps running until
   * the process exits). Default: until the hard deadline.
   */
  limitMs?: number;
}

/** After SHUTDOWN_TIMEOUT, what the steps together may still take before the process gives up. */
export const SHUTDOWN_GRACE_MS = 15_000;

/**
 * Runs `steps` in order once on the first SIGTERM/SIGINT, then exits 0; a second signal exits at
 * once (1). If the steps take longer than `timeoutMs` + SHUTDOWN_GRACE_MS altogether, the process
 * exits 1 anyway: a supervisor's stop must never hang. The order is the callers': stop accepting
 * HTTP, let the workers finish or hand back their jobs within `timeoutMs`, close the shared Redis
 * connections, and only then stop an embedded redis-server, which everything before still needs.
 */
export function onShutdown(logger: Logger, timeoutMs: number, steps: ShutdownStep[]): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    const started = Date.now();
    const hardDeadline = started + timeoutMs + SHUTDOWN_GRACE_MS;
    let current = '';
    setTimeout(() => {
      logger.error({ step: current, afterMs: Date.now() - started }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, hardDeadline - started).unref();
    logger.info({ signal, timeoutMs }, 'shutting down');
    // Runs to the end (or the hard deadline above ends the process); every step catches its own errors.
    void (async () => {
      for (const step of steps) {
        current = step.name;
        const stepStarted = Date.now();
        const limit = Math.min(step.limitMs ?? Infinity, hardDeadline - stepStarted - 500);
        const outcome = await within(step.run(timeoutMs), limit).catch((err: Error) => {
          logger.error({ step: step.name, err: err.message }, 'shutdown step failed');
          return 'failed' as const;
        });
        if (outcome === 'timeout') logger.warn({ step: step.name, limitMs: limit }, 'shutdown step still busy; going on without it');
        logger.debug({ step: step.name, durationMs: Date.now() - stepStarted, outcome }, 'shutdown step done');
      }
      logger.info({ durationMs: Date.now() - started }, 'stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/** 'done' when `p` settles within `ms`, else 'timeout'; rejects with `p`'s error. */
export async function within(p: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
  });
  try {
    return await Promise.race([p.then(() => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

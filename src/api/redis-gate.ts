/**
 * Redis is away: answer 503 `redis_unavailable` at once instead of hanging, and never let such a
 * request take effect later. The API's connection does not queue or resend commands (see
 * createApiRedis), so a command either reaches Redis now or fails now. The gate adds two things:
 * - a route that needs Redis is refused before its handler runs while the connection is not ready
 *   (no half-done work, no upload read for nothing);
 * - a request that changes something first PINGs (bounded by the command timeout): a Redis that is
 *   frozen but still holds the TCP connection would otherwise receive the handler's first write,
 *   time it out towards the client, and execute it when it wakes up. A read may run late harmlessly.
 * What remains: Redis dying in the microseconds between that PING and the write, or after executing
 * a write but before its reply arrived. Then the client gets 503 for something that did happen,
 * which no client of any remote store can rule out; "run now" answers 409 if tried again.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';

/** Seconds a client is told to wait before trying again (the reconnect back-off starts at 0.2 s). */
export const REDIS_RETRY_AFTER_S = 5;

/** Reply errors of a Redis that is up but cannot serve (loading its AOF, a failover, full memory). */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|OOM|MISCONF|NOREPLICAS)\b/;

/** The messages ioredis fails a command with when the connection cannot carry it. */
const CONNECTION_FAILURE = [
  "Stream isn't writeable",
  'Connection is closed',
  'Command timed out',
  'Reached the max retries per request limit',
  'connect ECONNREFUSED',
  'connect ETIMEDOUT',
  'read ECONNRESET',
  'write EPIPE',
];

/** True when `err` says Redis could not be reached or could not serve, or the connection is down. */
export function redisUnavailable(err: unknown, redis: Redis): boolean {
  if (err instanceof RedisUnavailableError) return true;
  const message = (err as Error | undefined)?.message ?? '';
  if ((err as Error | undefined)?.name === 'MaxRetriesPerRequestError') return true;
  if (CONNECTION_FAILURE.some((m) => message.includes(m)) || UNAVAILABLE_REPLY.test(message)) return true;
  // Any error while the connection is down is because of it (BullMQ words some of them its own way).
  return redis.status !== 'ready';
}

export class RedisUnavailableError extends Error {
  constructor(why: string) {
    super(`Redis unavailable: ${why}`);
    this.name = 'RedisUnavailableError';
  }
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Route middleware for everything that talks to Redis. `probeReads`: PING for reads too (the
 * dashboard's API, whose handlers make many calls in a row and could otherwise wait for each).
 */
export function redisGate(redis: Redis, opts: { probeReads?: boolean } = {}) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (redis.status !== 'ready') return next(new RedisUnavailableError(`connection ${redis.status}`));
    if (READ_METHODS.has(req.method) && !opts.probeReads) return next();
    redis.ping().then(
      () => next(),
      (err: Error) => next(new RedisUnavailableError(err.message)),
    );
  };
}

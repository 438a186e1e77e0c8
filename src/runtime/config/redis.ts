/** The Redis that holds the queues, the schedules and the locks. */
import { matching, text, variable, type Parsed } from './variables.js';

/** Where a process looks for Redis when REDIS_URL is unset (`npm start` may then run its own). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export const redis = {
  title: 'Redis',
  variables: {
    REDIS_URL: variable(
      {
        defaultText: `\`${DEFAULT_REDIS_URL}\``,
        // A URL can carry the Redis password.
        secret: true,
        doc: 'Redis of the queues, schedule and locks (`rediss://` for TLS); unset, `npm start` runs its own `redis-server` when nothing answers there',
      },
      parseRedisUrl,
    ),
    QUEUE_PREFIX: matching({
      default: 'oob',
      // BullMQ joins key parts with ':' and job ids must not contain it.
      pattern: /^[A-Za-z0-9_.-]+$/,
      problem: 'may hold letters, digits, "_", "." and "-" only',
      doc: 'prefix of every Redis key; several installations can share one Redis',
    }),
    REDIS_TLS_CA_FILE: text({ doc: 'CA to trust for a `rediss://` `REDIS_URL`' }),
  },
};

/** The URL as given (ioredis reads it); refused when it is no redis:// or rediss:// URL. */
function parseRedisUrl(raw: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: 'is not a URL (e.g. redis://127.0.0.1:6379)' };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return { problem: `must start with redis:// or rediss://, got "${url.protocol}"` };
  return { value: raw };
}

/**
 * Per-volume locks in Redis, so two workers (on any machine) never archive, prune or restore the
 * same volume at once. A lock expires unless renewed (every third of `ttlMs`), so a worker killed
 * with -9 frees its volumes at most `ttlMs` after its last renewal.
 *
 * The owner string decides who may take a held lock: only the same owner again. The archive job
 * uses one owner per *attempt* (`<jobId>@<BullMQ token>`), not per job: when BullMQ hands a job to
 * a second worker because the first one's job lock expired, the first one may still be alive (a
 * long GC pause, a network partition from Redis) and still writing. If the retry could take the
 * volume over at once, both would write the same `.partial` and the slower one would rename the
 * other's half-written file to the final name. So the retry waits until the first attempt's lock
 * expires; a live first attempt keeps renewing it, finishes, and the retry then finds the finished
 * archive. After a real kill -9 this costs at most `ttlMs` (and the job lock expiry plus the
 * stalled check take about as long anyway, see WORKER_TIMING in src/jobs/workers.ts).
 *
 * A holder learns that it lost its lock (another owner holds it, it expired, or no renewal has been
 * confirmed for `ttlMs`, e.g. Redis unreachable) through `lost` and `signal`, so long work can stop
 * before it publishes anything.
 */
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const ACQUIRE = `
local cur = redis.call('get', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/**
 * The job part of a per-attempt owner `<job id>@<BullMQ token>`, for logs: the token is the job
 * lock's secret-ish half and stays in Redis.
 */
export function lockOwnerJob(owner: string): string {
  const at = owner.lastIndexOf('@');
  return at < 0 ? owner : owner.slice(0, at);
}

export class LockLostError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`lock ${key} lost: ${reason}`);
    this.name = 'LockLostError';
  }
}

export interface HeldLock {
  key: string;
  /** Rejects no more; check `lost` after long work if it matters. */
  release(): Promise<void>;
  /** True once the lock is known (or must be assumed) to be held by someone else or nobody. */
  readonly lost: boolean;
  /** Aborted (reason: a LockLostError) when `lost` becomes true. */
  readonly signal: AbortSignal;
  /**
   * Renews now and says whether the lock is still ours (a Redis that cannot be asked: not). The
   * renewals run every third of the TTL: work that ends between two of them, as a fast restore's
   * extraction does, asks before it touches live data instead of trusting the last one.
   */
  confirm(): Promise<boolean>;
}

/**
 * `namespace` separates kinds of lock: `volume` (one per volume), `db` (the database a SQL restore
 * replaces) and `restore` (held while any restore runs, which holds scheduled runs back).
 */
export class VolumeLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 60_000,
    private readonly namespace = 'volume',
  ) {}

  key(volume: string): string {
    return `${this.prefix}:oob-lock:${this.namespace}:${volume}`;
  }

  async holder(volume: string): Promise<string | null> {
    return this.redis.get(this.key(volume));
  }

  /** Milliseconds until the current holder's lock expires unless renewed; 0 when nobody holds it. */
  async expiresIn(volume: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.key(volume)));
  }

  /** Takes the lock or returns undefined when another owner holds it. */
  async acquire(volume: string, owner: string): Promise<HeldLock | undefined> {
    const key = this.key(volume);
    const ttl = this.ttlMs;
    // Sent before the acquire: the lock runs out on the server no earlier than ttl after this.
    let confirmedAt = Date.now();
    const ok = await this.redis.eval(ACQUIRE, 1, key, owner, String(ttl));
    if (ok !== 1) return undefined;
    const controller = new AbortController();
    let released = false;
    let watchdog: NodeJS.Timeout | undefined;
    const lose = (reason: string) => {
      if (released || controller.signal.aborted) return;
      clearInterval(renewer);
      clearTimeout(watchdog);
      controller.abort(new LockLostError(key, reason));
    };
    // Nothing confirmed for (almost) a whole TTL — Redis away, or this process stalled: the key may
    // have expired on the server and been taken, so we must not act as its holder any more.
    const margin = Math.min(1000, Math.floor(ttl / 10));
    const armWatchdog = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => lose(`no renewal confirmed for ${ttl - margin} ms`), Math.max(0, confirmedAt + ttl - margin - Date.now()));
      watchdog.unref();
    };
    const renewer = setInterval(() => {
      const sentAt = Date.now();
      this.redis.eval(RENEW, 1, key, owner, String(ttl)).then(
        (r) => {
          if (r !== 1) return lose('held by another owner or expired');
          if (sentAt > confirmedAt) {
            confirmedAt = sentAt;
            if (!released && !controller.signal.aborted) armWatchdog();
          }
        },
        () => { /* Redis away for a moment: the next renewal retries before the TTL runs out */ },
      );
    }, Math.max(1, Math.floor(ttl / 3)));
    renewer.unref();
    armWatchdog();
    return {
      key,
      get lost() { return controller.signal.aborted; },
      signal: controller.signal,
      confirm: async () => {
        if (released || controller.signal.aborted) return false;
        const r = await this.redis.eval(RENEW, 1, key, owner, String(ttl)).catch(() => 'unreachable');
        if (r !== 1) lose(r === 'unreachable' ? 'Redis could not be asked' : 'held by another owner or expired');
        return r === 1;
      },
      release: async () => {
        released = true;
        clearInterval(renewer);
        clearTimeout(watchdog);
        await this.redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
      },
    };
  }
}

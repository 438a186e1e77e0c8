/**
 * How an age identity given with a restore's confirmation (`ageIdentity`) reaches the worker that
 * runs the restore, without ever being stored readable in Redis, job data, files or logs:
 *
 * - every worker process makes its own X25519 key pair at start (age-keygen), keeps the private
 *   half in memory only, and announces the public half in Redis (`oob-worker-key:<id>`, expiring
 *   unless the live worker renews it);
 * - the API encrypts the identity to the public keys of the live workers and stores only that
 *   ciphertext beside the request (`oob-restore:<id>:sealed-identity`, short TTL);
 * - the restore job takes it (GETDEL: once), decrypts it with its worker's private key, and keeps
 *   the identity in memory for that job only.
 * Whoever reads Redis (or the dashboard) sees a ciphertext for keys that exist only in the memory
 * of running workers; a restarted worker has a new key and cannot read an old one either.
 */
import type { Redis } from 'ioredis';

const SCAN_COUNT = 200;

export class IdentityChannel {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private workerKey(workerId: string): string {
    return `${this.prefix}:oob-worker-key:${workerId}`;
  }

  private sealedKey(restoreId: string): string {
    return `${this.prefix}:oob-restore:${restoreId}:sealed-identity`;
  }

  async announce(workerId: string, recipient: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.workerKey(workerId), recipient, 'PX', ttlMs);
  }

  async withdraw(workerId: string): Promise<void> {
    await this.redis.del(this.workerKey(workerId));
  }

  /** Public keys of the workers alive now. */
  async liveRecipients(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', this.workerKey('*'), 'COUNT', SCAN_COUNT);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    return (await this.redis.mget(...keys)).filter((v): v is string => typeof v === 'string');
  }

  async putSealed(restoreId: string, armored: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.sealedKey(restoreId), armored, 'PX', ttlMs);
  }

  /** The sealed identity of a restore, once: it is gone from Redis after this. */
  async takeSealed(restoreId: string): Promise<string | undefined> {
    return (await this.redis.getdel(this.sealedKey(restoreId))) ?? undefined;
  }
}

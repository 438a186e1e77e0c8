/**
 * Restore requests wait in Redis for their confirmation. The token is random (256 bit), handed out
 * once and stored only as its SHA-256, so neither Redis nor a log holds a usable token; it is
 * single use: the request record never changes, and its confirmation is a second key set with NX,
 * so two confirmations can never both queue a restore.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { tokenMatches } from '../api/auth.js';

export type RestoreKind = 'set' | 'sql';

export interface RestoreRequest {
  id: string;
  kind: RestoreKind;
  stamp: string | null;
  volumes: string[];
  /** For kind sql: the uploaded file in BACKUP_DIR/uploads, or a dump of the listing. */
  sqlFile: string | null;
  skipSafetyBackup: boolean;
  createdAt: string;
  expiresAt: string;
  state: 'pending' | 'confirmed';
  jobId: string | null;
  tokenHash: string;
}

export type ConfirmOutcome =
  | { ok: true; request: RestoreRequest }
  | { ok: false; reason: 'not_found' | 'wrong_token' | 'expired' | 'used' };

/** Records outlive their confirmation window so GET /api/restores/:id can show the outcome. */
const RECORD_TTL_S = 30 * 24 * 3600;

export class RestoreRequests {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  /** Ids are UUIDs; anything else is not one of ours (and must not reach a Redis key unchecked). */
  static isValidId(id: string): boolean {
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
  }

  private key(id: string): string {
    return `${this.prefix}:oob-restore:${id}`;
  }

  async create(
    fields: Pick<RestoreRequest, 'kind' | 'stamp' | 'volumes' | 'sqlFile' | 'skipSafetyBackup'>,
    now = new Date(),
  ): Promise<{ request: RestoreRequest; token: string }> {
    const token = randomBytes(32).toString('base64url');
    const request: RestoreRequest = {
      ...fields,
      id: randomUUID(),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.ttlMs).toISOString(),
      state: 'pending',
      jobId: null,
      tokenHash: hashToken(token),
    };
    await this.redis.set(this.key(request.id), JSON.stringify(request), 'EX', RECORD_TTL_S);
    return { request, token };
  }

  async get(id: string): Promise<RestoreRequest | undefined> {
    const [raw, jobId] = await Promise.all([this.redis.get(this.key(id)), this.redis.get(this.confirmedKey(id))]);
    if (raw === null) return undefined;
    const request = JSON.parse(raw) as RestoreRequest;
    return jobId === null ? request : { ...request, state: 'confirmed', jobId };
  }

  private confirmedKey(id: string): string {
    return `${this.key(id)}:confirmed`;
  }

  /**
   * Checks in the order a person can act on: an unknown id, then a wrong token (so a guesser learns
   * nothing about the request's state), then expiry, then reuse.
   */
  async confirm(id: string, token: string, jobId: string, now = new Date()): Promise<ConfirmOutcome> {
    const request = await this.get(id);
    if (!request) return { ok: false, reason: 'not_found' };
    if (!tokenMatches(hashToken(token), request.tokenHash)) return { ok: false, reason: 'wrong_token' };
    if (request.state !== 'pending') return { ok: false, reason: 'used' };
    if (now.getTime() > Date.parse(request.expiresAt)) return { ok: false, reason: 'expired' };
    const won = await this.redis.set(this.confirmedKey(id), jobId, 'EX', RECORD_TTL_S, 'NX');
    if (won !== 'OK') return { ok: false, reason: 'used' };
    return { ok: true, request: { ...request, state: 'confirmed', jobId } };
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

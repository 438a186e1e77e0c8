/**
 * Restore requests wait in Redis for their confirmation. The token is random (256 bit), handed out
 * once and stored only as its SHA-256, so neither Redis nor a log holds a usable token; it is
 * single use: the request record never changes, and its confirmation is a second key set with NX,
 * so two confirmations can never both queue a restore.
 *
 * A request's life is four keys, each written once:
 *   `oob-restore:<id>`            the request (what to restore, the token's hash)
 *   `oob-restore:<id>:confirmed`  the id of the one job the confirmation queued (SET NX)
 *   `oob-restore:<id>:started`    that job's attempt that consumed the confirmation (SET NX, see claimRun)
 *   `oob-restore:<id>:outcome`    how it ended, with the summary, so the history outlives the job
 * The restore processor refuses to touch anything unless claimRun succeeds, and claimRun succeeds
 * once per request, for the confirmed job only: a retry of the job, a copy of it with another id
 * (the dashboard's "add"), a second worker or a stalled re-run all find the confirmation consumed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import { tokenMatches } from '../core/tokens.js';

/** 'files': chosen paths of one volume's archive (single-file restore). */
export type RestoreKind = 'set' | 'sql' | 'files';

export interface RestoreRequest {
  id: string;
  kind: RestoreKind;
  stamp: string | null;
  volumes: string[];
  /** For kind sql: the uploaded file in BACKUP_DIR/uploads, or a dump of the listing. */
  sqlFile: string | null;
  skipSafetyBackup: boolean;
  /** Kind files: the chosen paths inside the volume, as hex of their bytes (none inside another). */
  paths?: string[];
  /** Kind files: into a new folder beside the live data, or replacing the chosen paths. */
  into?: 'beside' | 'in-place';
  /** Restore from this off-site target (rclone `remote:path`): its archives are fetched first. */
  from?: string | null;
  /** Encrypted copies are fetched and no OFFSITE_AGE_IDENTITY_FILE is set: the confirmation must bring an identity. */
  needsIdentity?: boolean;
  createdAt: string;
  expiresAt: string;
  state: 'pending' | 'confirmed';
  jobId: string | null;
  tokenHash: string;
  /** Set once the confirmed job started the restore (consumed the confirmation). */
  started?: RestoreStart;
  /** Set when the restore finished, failed, or was found interrupted. */
  outcome?: RestoreOutcome;
}

export interface RestoreStart {
  jobId: string;
  at: string;
}

export interface RestoreOutcome {
  state: 'completed' | 'failed';
  at: string;
  summary: unknown;
  failedReason: string | null;
}

/** Why a job may not run a restore: see claimRun. */
export type RunRefusal = 'not_found' | 'not_confirmed' | 'other_job' | 'used';

export type ConfirmOutcome =
  | { ok: true; request: RestoreRequest }
  | { ok: false; reason: 'not_found' | 'wrong_token' | 'expired' | 'used' };

/** Records outlive their confirmation window so GET /api/restores/:id can show the outcome. */
const RECORD_TTL_S = 30 * 24 * 3600;

/** How the outcome of a restore found interrupted begins (noteInterrupted). */
export const INTERRUPTED = 'the restore was interrupted (its worker stopped or lost Redis); ';

/**
 * KEYS[1] the outcome; ARGV: the first outcome, the interrupted prefix, what to add, the TTL.
 * Absent: the first outcome. An interrupted one not naming it yet: appended. A real one: kept.
 */
const NOTE_INTERRUPTED = `
local raw = redis.call('GET', KEYS[1])
if not raw then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[4]))
  return 1
end
local outcome = cjson.decode(raw)
local reason = outcome.failedReason
if type(reason) ~= 'string' or string.sub(reason, 1, #ARGV[2]) ~= ARGV[2] or string.find(reason, ARGV[3], 1, true) then return 0 end
outcome.failedReason = reason .. '; ' .. ARGV[3]
redis.call('SET', KEYS[1], cjson.encode(outcome), 'EX', tonumber(ARGV[4]))
return 1
`;

/**
 * Checks (ARGV[3] = 'check') or consumes (ARGV[3] = 'claim') the confirmation for job ARGV[1], in
 * one script so that nothing can happen between the checks and the SET NX that consumes it.
 * KEYS: request, confirmed, started. ARGV: job id, start record, mode, TTL in seconds.
 */
const CLAIM_RUN = `
if redis.call('exists', KEYS[1]) == 0 then return 'not_found' end
local confirmedFor = redis.call('get', KEYS[2])
if not confirmedFor then return 'not_confirmed' end
if confirmedFor ~= ARGV[1] then return 'other_job' end
if redis.call('exists', KEYS[3]) == 1 then return 'used' end
if ARGV[3] == 'claim' then redis.call('set', KEYS[3], ARGV[2], 'EX', ARGV[4]) end
return 'ok'`;

export class RestoreRequests {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    /** Times of creation, expiry, start and outcome. */
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** Ids are UUIDs; anything else is not one of ours (and must not reach a Redis key unchecked). */
  static isValidId(id: string): boolean {
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
  }

  private key(id: string): string {
    return `${this.prefix}:oob-restore:${id}`;
  }

  async create(
    fields: Pick<RestoreRequest, 'kind' | 'stamp' | 'volumes' | 'sqlFile' | 'skipSafetyBackup' | 'paths' | 'into' | 'from' | 'needsIdentity'>,
    now = this.clock.now(),
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
    const [raw, jobId, started, outcome] = await this.redis.mget(this.key(id), this.confirmedKey(id), this.startedKey(id), this.outcomeKey(id));
    if (raw === null || raw === undefined) return undefined;
    const request = JSON.parse(raw) as RestoreRequest;
    return {
      ...request,
      ...(jobId ? { state: 'confirmed' as const, jobId } : {}),
      ...(started ? { started: JSON.parse(started) as RestoreStart } : {}),
      ...(outcome ? { outcome: JSON.parse(outcome) as RestoreOutcome } : {}),
    };
  }

  private confirmedKey(id: string): string {
    return `${this.key(id)}:confirmed`;
  }

  private startedKey(id: string): string {
    return `${this.key(id)}:started`;
  }

  private outcomeKey(id: string): string {
    return `${this.key(id)}:outcome`;
  }

  /**
   * Consumes the confirmation for `jobId`: 'ok' exactly once per request, and only for the job the
   * confirmation queued. Otherwise why not: the request is gone, was never confirmed, was
   * confirmed for another job (this one is a copy), or its confirmation was consumed already (a
   * retry, a second worker, a stalled re-run).
   */
  async claimRun(id: string, jobId: string, now = this.clock.now()): Promise<'ok' | RunRefusal> {
    return this.runScript(id, jobId, 'claim', now);
  }

  /** What claimRun would answer now, without consuming anything. */
  async checkRun(id: string, jobId: string): Promise<'ok' | RunRefusal> {
    return this.runScript(id, jobId, 'check', this.clock.now());
  }

  private async runScript(id: string, jobId: string, mode: 'check' | 'claim', now: Date): Promise<'ok' | RunRefusal> {
    const start: RestoreStart = { jobId, at: now.toISOString() };
    const keys = [this.key(id), this.confirmedKey(id), this.startedKey(id)];
    return (await this.redis.eval(CLAIM_RUN, keys.length, ...keys, jobId, JSON.stringify(start), mode, String(RECORD_TTL_S))) as 'ok' | RunRefusal;
  }

  /**
   * Stores how the restore ended beside the request, so that GET /api/restores/:id still tells it
   * after the job was removed from the queue (history limits, a dashboard "clean"). An outcome
   * found afterwards (an interrupted restore) goes through noteInterrupted, which never replaces a
   * real one.
   */
  async recordOutcome(id: string, outcome: Omit<RestoreOutcome, 'at'>, o: { now?: Date } = {}): Promise<void> {
    const value = JSON.stringify({ ...outcome, at: (o.now ?? this.clock.now()).toISOString() });
    await this.redis.set(this.outcomeKey(id), value, 'EX', RECORD_TTL_S);
  }

  /**
   * What the recovery did to one volume of a restore found interrupted (jobs/recovery.ts), added to
   * its outcome: the first volume's recovery records it (unless the job recorded a real one), each
   * further volume's is appended, so that a restore rolled back on one volume and finished on
   * another says both (found by an audit: only the first volume was named, "rolled back", while the
   * other held the restored data). Atomic; the recoveries run one at a time (the restore hold).
   */
  async noteInterrupted(id: string, what: string, now = this.clock.now()): Promise<void> {
    const first = JSON.stringify({ state: 'failed', summary: null, failedReason: `${INTERRUPTED}${what}`, at: now.toISOString() } satisfies RestoreOutcome);
    await this.redis.eval(NOTE_INTERRUPTED, 1, this.outcomeKey(id), first, INTERRUPTED, what, String(RECORD_TTL_S));
  }

  /** Every completed restore's id and summary still recorded (30 days): jobs/earlier-safety-backups.ts. */
  async completedSummaries(): Promise<{ id: string; summary: unknown }[]> {
    const found: { id: string; summary: unknown }[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.outcomeKey('*'), 'COUNT', 1000);
      cursor = next;
      const values = keys.length ? await this.redis.mget(...keys) : [];
      keys.forEach((k, i) => {
        const id = k.slice(this.key('').length, -':outcome'.length);
        const o = values[i] ? (JSON.parse(values[i]!) as Partial<RestoreOutcome>) : undefined;
        if (RestoreRequests.isValidId(id) && o?.state === 'completed' && o.summary) found.push({ id, summary: o.summary });
      });
    } while (cursor !== '0');
    return found;
  }

  /**
   * Checks in the order a person can act on: an unknown id, then a wrong token (so a guesser learns
   * nothing about the request's state), then expiry, then reuse.
   */
  async confirm(id: string, token: string, jobId: string, now = this.clock.now()): Promise<ConfirmOutcome> {
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

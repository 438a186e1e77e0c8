/**
 * Restores are two steps: a request that checks what would happen and answers with a warning and a
 * single-use token, and a confirmation with that token that queues the restore job. Nothing is
 * queued, and no data touched, before the confirmation.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppContext } from '../../runtime/context.js';
import { setRestoreWarning, sqlRestoreWarning } from '../../core/restore-warning.js';
import { restoreFailureText } from '../../core/restore-stall.js';
import { KEEP_HISTORY, type RestoreJobData } from '../../stores/queues.js';
import { RestoreRequests, type RestoreRequest } from '../../stores/restore-requests.js';
import { discardRest, receiveUpload, uploadsDir, UploadError } from '../../stores/uploads.js';
import { volumeDir } from '../../engine/fs/volumes.js';
import type { ApiRequest, ApiResponse, Handler } from '../handler.js';
import { badRequest, HttpError, notFound, unsupportedMediaType } from '../http-error.js';
import { confirmRestoreBody, setRestoreBody, sqlRestoreQuery } from '../schemas/index.js';
import { remoteArchives } from '../remote-sets.js';
import { encryptText } from '../../engine/offsite/age.js';
import { parseRequest } from '../validate.js';
import { requestFilesRestore } from './restore-files.js';

export const requestSetRestore: Handler = async (ctx, req) => {
  const { stamp, volumes: requested, skipSafetyBackup, paths, into, from } = parseRequest(setRestoreBody, req.body, 'body');
  if (paths !== undefined) {
    if (from !== undefined) throw badRequest('single files are restored from BACKUP_DIR only; restore the set from the target first, or copy its archive back by hand', 'from');
    // The schema made sure there is exactly one volume.
    return requestFilesRestore(ctx, { stamp, volume: requested![0]!, keys: paths, into: into ?? 'beside', skipSafetyBackup });
  }
  if (from !== undefined) return requestRemoteRestore(ctx, { stamp, requested, skipSafetyBackup, from });
  const set = await ctx.store.getSet(stamp);
  if (!set) throw notFound(`no backup set ${stamp}`);
  const dump = set.archives.find((a) => a.kind === 'sql' && requested?.includes(a.volume));
  if (dump) {
    // The set's logical dump restores through the SQL path, no upload needed.
    if (requested!.length > 1) throw badRequest(`restore the database dump ${dump.volume} on its own, without volumes`, 'volumes');
    return sqlRestoreRequest(ctx, path.join(ctx.config.backupDir, dump.file), skipSafetyBackup, { stamp, volumes: [dump.volume] });
  }
  const inSet = set.archives.filter((a) => a.kind === 'volume').map((a) => a.volume);
  const volumes = requested ?? inSet;
  const missing = volumes.filter((v) => !inSet.includes(v));
  if (missing.length) throw badRequest(`backup set ${stamp} has no archive of ${missing.join(', ')}; it has ${inSet.join(', ') || 'none'}`, 'volumes');
  if (volumes.length === 0) throw badRequest(`backup set ${stamp} holds no volume archive`, 'volumes');
  for (const v of volumes) {
    if ((await volumeDir(ctx.config.volumes, v)) === undefined) {
      throw badRequest(`volume ${v} of the backup is not configured on this server (VOLUMES)`, 'volumes');
    }
  }
  const { request, token } = await ctx.restores.create({ kind: 'set', stamp, volumes, sqlFile: null, skipSafetyBackup });
  ctx.logger.info({ module: 'api', restoreId: request.id, stamp, volumes }, 'restore requested, waiting for confirmation');
  return {
    status: 201,
    body: { id: request.id, token, stamp, volumes, skipSafetyBackup, warning: setRestoreWarning(stamp, volumes, !skipSafetyBackup), expiresAt: request.expiresAt },
  };
};

/** A restore from an off-site target: the target is listed now; the job fetches and verifies the archives. */
async function requestRemoteRestore(ctx: AppContext, o: { stamp: string; requested?: string[]; skipSafetyBackup: boolean; from: string }): Promise<ApiResponse> {
  const targets = ctx.config.offsite?.targets ?? [];
  if (!targets.includes(o.from)) {
    throw badRequest(targets.length ? `from must be one of OFFSITE_TARGETS: ${targets.join(', ')}` : 'no off-site targets are configured (OFFSITE_TARGETS)', 'from');
  }
  const listing = await remoteArchives(ctx, { fresh: true, targets: [o.from] });
  if (listing.errors.length) throw new HttpError(502, 'target_unavailable', `${o.from} cannot be listed: ${listing.errors[0]!.error}`);
  const inSet = listing.archives.filter((a) => a.stamp === o.stamp);
  if (inSet.length === 0) throw notFound(`${o.from} holds no complete copy of backup set ${o.stamp}`);
  const dump = inSet.find((a) => a.kind === 'sql' && o.requested?.includes(a.volume));
  if (dump) {
    // The set's dump restores through the SQL path; the job fetches it first.
    if (o.requested!.length > 1) throw badRequest(`restore the database dump ${dump.volume} on its own, without volumes`, 'volumes');
    return sqlRestoreRequest(ctx, path.join(ctx.config.backupDir, dump.file), o.skipSafetyBackup, { stamp: o.stamp, volumes: [dump.volume], from: o.from, encrypted: dump.encrypted }, await identityNeeded(ctx, [dump]));
  }
  const available = inSet.filter((a) => a.kind === 'volume').map((a) => a.volume);
  const volumes = o.requested ?? available;
  const missing = volumes.filter((v) => !available.includes(v));
  if (missing.length) throw badRequest(`${o.from} has no copy of ${missing.join(', ')} in set ${o.stamp}; it has ${available.join(', ') || 'none'}`, 'volumes');
  if (volumes.length === 0) throw badRequest(`${o.from} holds no volume archive of set ${o.stamp}`, 'volumes');
  for (const v of volumes) {
    if ((await volumeDir(ctx.config.volumes, v)) === undefined) throw badRequest(`volume ${v} of the backup is not configured on this server (VOLUMES)`, 'volumes');
  }
  const encrypted = inSet.some((a) => volumes.includes(a.volume) && a.encrypted);
  const needsIdentity = await identityNeeded(ctx, inSet.filter((a) => volumes.includes(a.volume)));
  const { request, token } = await ctx.restores.create({ kind: 'set', stamp: o.stamp, volumes, sqlFile: null, skipSafetyBackup: o.skipSafetyBackup, from: o.from, needsIdentity });
  ctx.logger.info({ module: 'api', restoreId: request.id, stamp: o.stamp, volumes, from: o.from }, 'restore from an off-site target requested, waiting for confirmation');
  return {
    status: 201,
    body: {
      id: request.id, token, stamp: o.stamp, volumes, from: o.from, encrypted, skipSafetyBackup: o.skipSafetyBackup,
      warning: setRestoreWarning(o.stamp, volumes, !o.skipSafetyBackup), expiresAt: request.expiresAt,
    },
  };
}

/** How long a refused upload's remaining body is still read (and dropped) so the client sees our answer. */
const UPLOAD_LINGER_MS = 5000;

export const requestSqlRestore: Handler = async (ctx, req) => {
  const db = ctx.config.db;
  let skipSafetyBackup: boolean;
  try {
    if (!db) throw new HttpError(409, 'db_not_configured', 'no database is configured (DB_HOST); SQL restores are not available');
    checkUploadHeaders(req);
    skipSafetyBackup = parseRequest(sqlRestoreQuery, req.query, 'query').skipSafetyBackup;
  } catch (err) {
    discardRest(req.stream, UPLOAD_LINGER_MS);
    throw err;
  }
  const declared = Number(req.headers['content-length']);
  const length = req.headers['content-length'] !== undefined && Number.isSafeInteger(declared) ? declared : undefined;
  const uploadId = randomUUID();
  const limits = {
    maxBytes: ctx.config.maxUploadBytes,
    idleTimeoutMs: ctx.config.uploadIdleTimeoutMs,
    spaceMarginBytes: ctx.config.spaceMarginBytes,
    database: db!.database,
  };
  let upload;
  try {
    upload = await receiveUpload(req.stream, uploadsDir(ctx.config.backupDir), uploadId, limits, length);
  } catch (err) {
    discardRest(req.stream, UPLOAD_LINGER_MS);
    if (err instanceof UploadError) {
      // A stalled client is not sending: no point keeping its connection for the linger time.
      throw new HttpError(err.status, err.code, err.message, undefined, err.status === 408 ? { Connection: 'close' } : undefined);
    }
    throw err;
  }
  try {
    return await sqlRestoreRequest(ctx, upload.path, skipSafetyBackup, { upload: { bytes: upload.bytes, gzip: upload.gzip } });
  } catch (err) {
    // No request points at the file (Redis failed us): it would only wait for the sweep.
    await fs.rm(upload.path, { force: true });
    throw err;
  }
};

/**
 * The body is the file itself. A form upload (multipart) or JSON would be stored with its framing,
 * and only transport gzip is something we can keep as it is (the file is then a .sql.gz). Any other
 * Content-Type is fine: `curl --data-binary @dump.sql` sends application/x-www-form-urlencoded.
 */
function checkUploadHeaders(req: ApiRequest): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('multipart/') || type === 'application/json') {
    throw unsupportedMediaType(`send the SQL file as the raw request body (e.g. curl --data-binary @dump.sql), not as ${type}`, 'body');
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new HttpError(415, 'unsupported_encoding', `Content-Encoding ${JSON.stringify(encoding)} is not supported for uploads; send the file as it is, or gzip`);
  }
}

async function sqlRestoreRequest(
  ctx: AppContext,
  sqlFile: string,
  skipSafetyBackup: boolean,
  extra: { upload?: { bytes: number; gzip: boolean }; stamp?: string; volumes?: string[]; from?: string; encrypted?: boolean },
  needsIdentity = false,
): Promise<ApiResponse> {
  const db = ctx.config.db;
  if (!db) throw new HttpError(409, 'db_not_configured', 'no database is configured (DB_HOST); SQL restores are not available');
  const { request, token } = await ctx.restores.create({
    kind: 'sql',
    stamp: extra.stamp ?? null,
    volumes: extra.volumes ?? [],
    sqlFile,
    skipSafetyBackup,
    from: extra.from ?? null,
    needsIdentity,
  });
  ctx.logger.info({ module: 'api', restoreId: request.id, file: path.basename(sqlFile) }, 'SQL restore requested, waiting for confirmation');
  return {
    status: 201,
    body: {
      id: request.id,
      token,
      database: db.database,
      ...extra,
      skipSafetyBackup,
      warning: sqlRestoreWarning(db.database, !skipSafetyBackup, extra.stamp ? { stamp: extra.stamp, from: extra.from } : undefined),
      expiresAt: request.expiresAt,
    },
  };
}

export const confirmRestore: Handler = async (ctx, req) => {
  const id = validId(req.params.id);
  const { token, ageIdentity } = parseRequest(confirmRestoreBody, req.body, 'body');
  const jobId = `restore-${id}`;
  // Which workers can take an identity is asked before the confirmation is spent; the identity is
  // sealed for them after it (only the token's holder gets that far) and before the job exists.
  const pending = await ctx.restores.get(id);
  if (!pending) throw CONFIRM_ERRORS.not_found();
  // Without it the job would fail after the confirmation was spent (found by an audit): said now.
  if (ageIdentity === undefined && pending.needsIdentity && pending.state === 'pending') {
    throw badRequest(`this restore fetches encrypted copies from ${pending.from}: give ageIdentity (the text of the age identity file), or mount it and set OFFSITE_AGE_IDENTITY_FILE; the confirmation was not used`, 'ageIdentity');
  }
  const recipients = ageIdentity === undefined ? [] : await workerRecipients(ctx);
  const outcome = await ctx.restores.confirm(id, token, jobId);
  if (!outcome.ok) throw CONFIRM_ERRORS[outcome.reason]();
  if (ageIdentity !== undefined) await ctx.identities.putSealed(id, await encryptText(ageIdentity, recipients), SEALED_IDENTITY_TTL_MS);
  const data: RestoreJobData = { restoreId: id };
  // One attempt: a failed restore needs a person to look, not an automatic second safety backup.
  await ctx.queues.restore.add('restore', data, { ...KEEP_HISTORY, jobId, attempts: 1 });
  ctx.logger.warn({ module: 'api', restoreId: id, jobId, kind: outcome.request.kind }, 'restore confirmed and queued');
  return { status: 202, body: { jobId } };
};

/** Whether fetching `archives` needs an identity from the confirmation: encrypted, not here yet, and no identity file. */
async function identityNeeded(ctx: AppContext, archives: { file: string; encrypted: boolean }[]): Promise<boolean> {
  if (ctx.config.offsite?.identityFile !== undefined) return false;
  for (const a of archives) {
    if (a.encrypted && !(await fs.stat(path.join(ctx.config.backupDir, a.file)).catch(() => undefined))) return true;
  }
  return false;
}

/** How long a sealed identity waits for its restore job (a restore waits for running backups first). */
const SEALED_IDENTITY_TTL_MS = 6 * 3600 * 1000;

/** The live workers' own age keys (stores/identity-channel.ts); the identity is stored only encrypted to them. */
async function workerRecipients(ctx: AppContext): Promise<string[]> {
  const recipients = await ctx.identities.liveRecipients();
  if (recipients.length === 0) {
    throw new HttpError(409, 'no_worker', 'no worker is running to take the age identity: start a worker (or mount the identity and set OFFSITE_AGE_IDENTITY_FILE), then confirm again', 'ageIdentity');
  }
  return recipients;
}

export const getRestore: Handler = async (ctx, req) => {
  const id = validId(req.params.id);
  const request = await ctx.restores.get(id);
  if (!request) throw notFound(`no restore request ${id}`);
  return { status: 200, body: await restoreView(ctx, request) };
};

const CONFIRM_ERRORS = {
  not_found: () => notFound('no such restore request'),
  wrong_token: () => new HttpError(403, 'wrong_token', 'the token does not match this restore request'),
  expired: () => new HttpError(410, 'expired', 'the restore request has expired; request the restore again'),
  used: () => new HttpError(409, 'already_confirmed', 'this restore request was confirmed already'),
};

/**
 * The request's own record tells the outcome (it outlives the job, which history limits or a
 * dashboard "clean" remove); the job adds live progress while it runs.
 */
async function restoreView(ctx: AppContext, r: RestoreRequest) {
  let job = r.jobId ? await ctx.queues.restore.getJob(r.jobId) : undefined;
  const jobState = job ? await job.getState() : undefined;
  if (!r.outcome && (jobState === 'failed' || jobState === 'completed')) {
    // The job ended between our reads of the request and of the job: read both again. The job
    // records its outcome before it ends, so now they agree (and the job's failedReason is set).
    r = (await ctx.restores.get(r.id)) ?? r;
    job = r.jobId ? await ctx.queues.restore.getJob(r.jobId) : job;
  }
  const expired = r.state === 'pending' && ctx.clock.now().getTime() > Date.parse(r.expiresAt);
  return {
    id: r.id,
    kind: r.kind,
    stamp: r.stamp,
    volumes: r.volumes,
    ...(r.kind === 'files' ? { paths: (r.paths ?? []).map((h) => Buffer.from(h, 'hex').toString('base64url')), into: r.into } : {}),
    skipSafetyBackup: r.skipSafetyBackup,
    from: r.from ?? null,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    state: restoreState(r, jobState, expired),
    jobId: r.jobId,
    startedAt: r.started?.at ?? null,
    finishedAt: r.outcome?.at ?? null,
    progress: job?.progress ?? null,
    summary: r.outcome?.summary ?? job?.returnvalue ?? null,
    failedReason: r.outcome?.failedReason ?? restoreFailureText(job?.failedReason),
  };
}

function restoreState(r: RestoreRequest, jobState: string | undefined, expired: boolean): string {
  if (r.state === 'pending') return expired ? 'expired' : 'pending';
  if (r.outcome) return r.outcome.state;
  // Started but no outcome and no job left: its worker died and the failed job was cleaned away.
  return jobState ?? (r.started ? 'interrupted' : 'unknown');
}

function validId(id: string | undefined): string {
  if (!id || !RestoreRequests.isValidId(id)) throw notFound(`no restore request ${id}`);
  return id;
}

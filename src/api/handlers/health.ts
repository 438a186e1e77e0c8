/** Liveness and readiness: /readyz is ready when Redis answers and BACKUP_DIR is writable. */
import fs from 'node:fs/promises';
import { freeBytes } from '../../engine/fs/free-space.js';
import type { Handler } from '../handler.js';

export const healthz: Handler = async () => ({ status: 200, body: { ok: true } });

export const readyz: Handler = async (ctx) => {
  const checks: Record<string, string> = {};
  checks.redis = await withTimeout(ctx.redis.ping(), 2000).then(
    (r) => (r === 'PONG' ? 'ok' : `unexpected reply ${r}`),
    (err: Error) => `error: ${err.message}`,
  );
  checks.backupDir = await fs.access(ctx.config.backupDir, fs.constants.W_OK).then(
    () => 'ok',
    (err: Error) => `error: ${err.message}`,
  );
  const ok = Object.values(checks).every((c) => c === 'ok');
  const backupDirFreeBytes = await freeBytes(ctx.config.backupDir).catch(() => null);
  return { status: ok ? 200 : 503, body: { ok, checks, backupDirFreeBytes } };
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

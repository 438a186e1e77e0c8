/**
 * SQL uploads stream straight to BACKUP_DIR/uploads (never into memory) under a size limit. The
 * file is named by what its first bytes say (gzip magic 1f 8b), not by what the client claims.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncFile } from './fs-atomic.js';

export class UploadError extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Upload {
  path: string;
  bytes: number;
  gzip: boolean;
}

export function uploadsDir(backupDir: string): string {
  return path.join(backupDir, 'uploads');
}

export async function receiveUpload(body: Readable, dir: string, id: string, maxBytes: number, declaredLength?: number): Promise<Upload> {
  if (declaredLength !== undefined && declaredLength > maxBytes) {
    body.resume(); // drain, so the client gets our answer instead of a reset
    throw new UploadError(413, 'too_large', `upload of ${declaredLength} bytes exceeds MAX_UPLOAD_BYTES (${maxBytes})`);
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const partial = path.join(dir, `${id}.upload.partial`);
  let bytes = 0;
  let head = Buffer.alloc(0);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (head.length < 2) head = Buffer.concat([head, chunk.subarray(0, 2)]);
      if (bytes > maxBytes) return cb(new UploadError(413, 'too_large', `upload exceeds MAX_UPLOAD_BYTES (${maxBytes})`));
      cb(null, chunk);
    },
  });
  try {
    await pipeline(body, counter, createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    if (bytes === 0) throw new UploadError(400, 'empty_upload', 'the upload is empty; send the .sql or .sql.gz file as the request body');
    await fsyncFile(partial);
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const final = path.join(dir, `${id}${gzip ? '.sql.gz' : '.sql'}`);
    await fs.rename(partial, final);
    return { path: final, bytes, gzip };
  } catch (err) {
    await fs.rm(partial, { force: true });
    if (err instanceof UploadError) {
      body.resume();
      throw err;
    }
    throw new UploadError(400, 'upload_failed', `upload failed: ${(err as Error).message}`);
  }
}

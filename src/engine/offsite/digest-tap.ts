/**
 * A pass-through that hashes what flows through it: sha256 (what the copy records and what
 * `sha256sum -c` checks) plus md5 and sha1, the hashes most rclone backends can compute on their
 * side (SFTP via md5sum/sha1sum, S3 ETags, B2 sha1), so that the remote's own checksum can be held
 * against what was sent without reading the object back.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
  sha1: string;
}

export class DigestTap extends Transform {
  private size = 0;
  private readonly hashes: Record<'sha256' | 'md5' | 'sha1', Hash> = { sha256: createHash('sha256'), md5: createHash('md5'), sha1: createHash('sha1') };
  private result: Digests | undefined;

  constructor(private readonly onBytes?: (total: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    for (const h of Object.values(this.hashes)) h.update(chunk);
    this.onBytes?.(this.size);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.result = { size: this.size, sha256: this.hashes.sha256.digest('hex'), md5: this.hashes.md5.digest('hex'), sha1: this.hashes.sha1.digest('hex') };
    done();
  }

  /** Available once the stream has ended. */
  digests(): Digests {
    if (!this.result) throw new Error('digests read before the stream ended');
    return this.result;
  }
}

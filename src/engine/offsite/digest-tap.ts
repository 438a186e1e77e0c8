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
  private readonly hashes: Partial<Record<'sha256' | 'md5' | 'sha1', Hash>>;
  private result: Digests | undefined;

  /**
   * sha256 always; `also`: the remote's own hash types to compute too (each costs CPU: md5 runs at
   * about half sha256's speed), so only the one the target can check is asked for.
   */
  constructor(private readonly onBytes?: (total: number) => void, also: readonly ('md5' | 'sha1')[] = []) {
    super();
    this.hashes = { sha256: createHash('sha256') };
    for (const t of also) this.hashes[t] = createHash(t);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    for (const h of Object.values(this.hashes)) h!.update(chunk);
    this.onBytes?.(this.size);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const hex = (h: Hash | undefined) => h?.digest('hex') ?? '';
    this.result = { size: this.size, sha256: hex(this.hashes.sha256), md5: hex(this.hashes.md5), sha1: hex(this.hashes.sha1) };
    done();
  }

  /** Available once the stream has ended. */
  digests(): Digests {
    if (!this.result) throw new Error('digests read before the stream ended');
    return this.result;
  }
}

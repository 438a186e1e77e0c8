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

/**
 * sha256 (plus `also`) and the size of what is passed to update(), without a stream around it:
 * for a caller that has the bytes at hand (encrypt-file.ts), and inside DigestTap.
 */
export class Digester {
  private size = 0;
  private readonly hashes: Partial<Record<'sha256' | 'md5' | 'sha1', Hash>>;

  /**
   * sha256 always; `also`: the remote's own hash types to compute too (each costs CPU: md5 runs at
   * about half sha256's speed), so only the one the target can check is asked for.
   */
  constructor(also: readonly ('md5' | 'sha1')[] = []) {
    this.hashes = { sha256: createHash('sha256') };
    for (const t of also) this.hashes[t] = createHash(t);
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    for (const h of Object.values(this.hashes)) h!.update(chunk);
  }

  get bytes(): number {
    return this.size;
  }

  /** Once, at the end: the hashes are finished by it. */
  digests(): Digests {
    const hex = (h: Hash | undefined) => h?.digest('hex') ?? '';
    return { size: this.size, sha256: hex(this.hashes.sha256), md5: hex(this.hashes.md5), sha1: hex(this.hashes.sha1) };
  }
}

export class DigestTap extends Transform {
  private readonly digester: Digester;
  private result: Digests | undefined;

  /** `also`: as for Digester. */
  constructor(
    private readonly onBytes?: (total: number) => void,
    also: readonly ('md5' | 'sha1')[] = [],
  ) {
    super();
    this.digester = new Digester(also);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.digester.update(chunk);
    this.onBytes?.(this.digester.bytes);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.result = this.digester.digests();
    done();
  }

  /** Available once the stream has ended. */
  digests(): Digests {
    if (!this.result) throw new Error('digests read before the stream ended');
    return this.result;
  }
}

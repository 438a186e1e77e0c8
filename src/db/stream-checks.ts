/**
 * Checks on the SQL streams as they pass (each a pass-through Transform in a pipeline): byte
 * counts for progress, the sha256 of a dump on its way to disk, the tail of a dump that must end
 * with mariadb-dump's completion line (a dump cut off by a lost connection can exit 0 without it),
 * and the length of a dump's longest statement.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SqlStatementScan } from '../core/sql-statement-scan.js';

/** The line mariadb-dump writes at the end of a complete dump (core/sql-dump-end.ts checks uploads for it too). */
export { COMPLETION_MARK } from '../core/sql-dump-end.js';

/** Pass-through that counts bytes. */
export class Counter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** Pass-through that counts bytes and keeps the last `keep` bytes (for the completion line). */
export class TailKeeper extends Transform {
  private tail = Buffer.alloc(0);
  constructor(
    private readonly keep: number,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    const joined = chunk.length >= this.keep ? chunk.subarray(chunk.length - this.keep) : Buffer.concat([this.tail, chunk]);
    // Copy: never pin a large chunk in memory just for its last bytes.
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.keep)));
    cb(null, chunk);
  }
  text(): string {
    return this.tail.toString('latin1');
  }
  /** The last non-empty line kept, at most `max` characters (its end): says where a cut-off dump stopped. */
  lastLine(max: number): string {
    const line = this.text().trimEnd().split('\n').pop() ?? '';
    return line.length > max ? `…${line.slice(-max)}` : line;
  }
}

/** Pass-through that hashes and counts the bytes on their way to disk. */
export class HashingCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Pass-through that measures the SQL's longest statement (core/sql-statement-scan.ts), what the server must take as one packet. */
export class StatementMeter extends Transform {
  private readonly scan = new SqlStatementScan();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.scan.see(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.scan.end();
    cb();
  }
  /** Bytes of the longest statement, once the stream has ended. */
  get longestStatement(): number {
    return this.scan.longestStatement;
  }
  /** The users (`user@host`) its views, triggers, routines and events are created for. */
  get definers(): string[] {
    return [...this.scan.definers];
  }
}

/**
 * Is a SQL file (plain or gzip) whole? mysqldump and mariadb-dump start a dump with a header
 * comment (`-- MariaDB dump 10.19 …` / `-- MySQL dump 10.13 …`; MariaDB 10.5.25+ put the line
 * `/*M!999999\- enable the sandbox mode *\/` before it) and end it with `-- Dump completed[ on …]`.
 * A dump cut off (a lost connection, a full disk, a copy that stopped halfway) keeps the header but
 * lacks the last line, and loads without any SQL error: the database would be replaced by half of
 * it. So a file that starts like such a dump must end with that line (blanks after it are fine).
 * A file without the header (hand-written SQL, or a dump made with --skip-comments/--compact, which
 * write neither line) cannot be judged this way and passes. A gzip that does not decompress to its
 * end (cut short, damaged) fails whatever it holds.
 *
 * DumpEndCheck is a pass-through stream: it sees every byte once, keeps the first HEAD_BYTES and
 * the last TAIL_BYTES of the (decompressed) text, and judges at the end; it does no I/O of its own
 * and its memory is bounded (a gzip is inflated chunk by chunk, its output dropped at once).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { SqlStatementScan } from './sql-statement-scan.js';

/** The line mariadb-dump and mysqldump write at the end of a complete dump. */
export const COMPLETION_MARK = '-- Dump completed';

/** Text looked at for the header: it is the first line (or the second, after the sandbox line). */
const HEAD_BYTES = 4096;
/** Text kept of the end: the completion line, and enough of a cut-off last line to show where it stops. */
const TAIL_BYTES = 4096;

export type DumpEndVerdict =
  /**
   * `dump`: the file has a dump header and ends with the completion line; false: no header, not judged.
   * `longestStatement`: bytes of its longest statement (what the server must accept as one packet).
   * `definers`: the users (`user@host`) its views, triggers, routines and events are created for.
   */
  | { ok: true; dump: boolean; gzip: boolean; longestStatement: number; definers: string[] }
  /**
   * `reason`: one sentence without a full stop; the caller adds what happened (nothing was changed/kept).
   * `problem`: cut short or damaged, or (with a database given) working on another database.
   */
  | { ok: false; reason: string; gzip: boolean; problem: 'incomplete' | 'other-database' };

/** The tool whose header the text starts with (first non-blank line, after a `/*M!…*\/` line), if any. */
export function dumpHeaderTool(head: string): 'mariadb-dump' | 'mysqldump' | undefined {
  const text = head.startsWith('\ufeff') ? head.slice(1) : head;
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || (l.startsWith('/*M!') && l.endsWith('*/'))) continue;
    const m = /^-- (MariaDB|MySQL) dump\b/.exec(l);
    return m ? (m[1] === 'MariaDB' ? 'mariadb-dump' : 'mysqldump') : undefined;
  }
  return undefined;
}

/** The last non-blank line of `tail`, at most `max` characters (its end). */
export function lastLine(tail: string, max = 120): string {
  const line = tail.trimEnd().split('\n').pop()!.trim();
  return line.length > max ? `…${line.slice(-max)}` : line;
}

/** Whether the last non-blank line of `tail` is the completion line. */
export function endsWithCompletion(tail: string): boolean {
  return COMPLETION_LINE.test(lastLine(tail, Infinity));
}

/** The completion line as the tools write it: with its date, or without (--skip-dump-date). */
const COMPLETION_LINE = /^-- Dump completed(?: on \d{4}-\d{2}-\d{2} +\d{1,2}:\d{2}:\d{2})?$/;

const isBlank = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** Pass-through that judges the SQL passing through (see above); `verdict()` once the stream has finished. */
export class DumpEndCheck extends Transform {
  private first = Buffer.alloc(0);
  private mode: 'undecided' | 'plain' | 'gzip' = 'undecided';
  private gunzip?: Gunzip;
  private gunzipError?: Error;
  private waiting?: () => void;
  private compressedBytes = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The end of the text so far without its trailing blanks; `blank` stands for those (at most one byte). */
  private tail = Buffer.alloc(0);
  private blank = '';
  private result?: DumpEndVerdict;
  /** Statements as the client splits them; with a database, those that switch to another (sql-statement-scan.ts). */
  private readonly statements: SqlStatementScan;

  constructor(o: { database?: string } = {}) {
    super();
    this.statements = new SqlStatementScan(o.database);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.mode === 'undecided') {
      // The gzip magic needs two bytes; a first chunk of one byte waits for the next.
      this.first = Buffer.concat([this.first, chunk]);
      if (this.first.length < 2) return cb(null, chunk);
      this.mode = this.first[0] === 0x1f && this.first[1] === 0x8b ? 'gzip' : 'plain';
      const all = this.first;
      this.first = Buffer.alloc(0);
      return this.feed(all, () => cb(null, chunk));
    }
    this.feed(chunk, () => cb(null, chunk));
  }

  override _flush(cb: TransformCallback): void {
    const finish = () => {
      this.result = this.judge();
      cb();
    };
    if (this.mode === 'undecided') {
      this.mode = 'plain';
      this.seeText(this.first);
    }
    const g = this.gunzip;
    if (!g || this.gunzipError) return finish();
    g.once('end', finish);
    g.once('error', finish);
    g.end();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A pipeline that failed (a stalled upload, a full disk) ends here: free the inflater with it.
    this.gunzip?.destroy();
    cb(err);
  }

  verdict(): DumpEndVerdict {
    if (!this.result) throw new Error('DumpEndCheck: the stream has not finished');
    return this.result;
  }

  /** Bytes as stored: plain text goes straight in, gzip through the inflater (with its backpressure). */
  private feed(bytes: Buffer, next: () => void): void {
    if (this.mode === 'plain') {
      this.seeText(bytes);
      return next();
    }
    this.compressedBytes += bytes.length;
    if (this.gunzipError) return next();
    if (!this.gunzip) {
      const g = createGunzip({ chunkSize: 128 * 1024 });
      g.on('data', (text: Buffer) => this.seeText(text));
      g.on('error', (err) => {
        this.gunzipError = err;
        this.release();
      });
      g.on('drain', () => this.release());
      this.gunzip = g;
    }
    if (this.gunzip.write(bytes)) return next();
    this.waiting = next;
  }

  private release(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** Decompressed text: the head until HEAD_BYTES, and always the tail. */
  private seeText(b: Buffer): void {
    if (b.length === 0) return;
    this.statements.see(b);
    if (this.headBytes < HEAD_BYTES) {
      const part = Buffer.from(b.subarray(0, HEAD_BYTES - this.headBytes));
      this.head.push(part);
      this.headBytes += part.length;
    }
    let end = b.length;
    while (end > 0 && isBlank(b[end - 1]!)) end--;
    if (end === 0) {
      // Only blanks: what counts is whether they hold a line break.
      if (b.includes(0x0a)) this.blank = '\n';
      else this.blank ||= ' ';
      return;
    }
    const body = b.subarray(Math.max(0, end - TAIL_BYTES), end);
    const joined = body.length >= TAIL_BYTES ? body : Buffer.concat([this.tail, Buffer.from(this.blank, 'latin1'), body]);
    // A copy: never pin a large chunk just for its last bytes.
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
    const trailing = b.subarray(end);
    this.blank = trailing.includes(0x0a) ? '\n' : trailing.length ? ' ' : '';
  }

  private judge(): DumpEndVerdict {
    const gzip = this.mode === 'gzip';
    if (this.gunzipError) {
      const what = /unexpected end of file/i.test(this.gunzipError.message) ? 'is cut short' : 'is damaged';
      return {
        ok: false,
        gzip,
        problem: 'incomplete',
        reason:
          `the SQL file is gzip and ${what}: it does not decompress to its end (${this.gunzipError.message}, after ${this.compressedBytes} bytes); ` +
          'the dump was interrupted or the file was copied or uploaded incompletely',
      };
    }
    this.statements.end();
    const foreign = this.statements.foreign;
    if (foreign) {
      return {
        ok: false,
        gzip,
        problem: 'other-database',
        reason:
          `the SQL file works on database ${JSON.stringify(foreign.database)}, not on the one it is restored into (${JSON.stringify(foreign.line)}: ` +
          'a dump made with --databases or --all-databases, or of a database of another name); loaded, it would change or fill that database ' +
          'instead; make the dump without --databases from a database of this name (mariadb-dump <database>), or load it by hand',
      };
    }
    const { longestStatement } = this.statements;
    const definers = [...this.statements.definers];
    const tool = dumpHeaderTool(Buffer.concat(this.head).toString('utf8'));
    if (!tool) return { ok: true, dump: false, gzip, longestStatement, definers };
    const tail = this.tail.toString('utf8');
    // The completion line counts outside any statement only: a routine's body may hold such a line.
    if (endsWithCompletion(tail) && !this.statements.endsInsideStatement) return { ok: true, dump: true, gzip, longestStatement, definers };
    const last = lastLine(tail);
    return {
      ok: false,
      gzip,
      problem: 'incomplete',
      reason:
        `the SQL file looks like a ${tool} file cut short: it does not end with "${COMPLETION_MARK}" ` +
        `(the dump was interrupted, or the file was copied or uploaded incompletely); it ends with ${JSON.stringify(last)}`,
    };
  }
}

/**
 * Splits SQL text into statements as the `mariadb` client does, run as our restore runs it
 * (`--binary-mode --comments`), and answers from them what a restore must know before it drops
 * anything (./sql-statement-head.ts says why each matters): which statements switch to another
 * database, the longest statement, whether the text ends inside one, and the definers of its
 * views, triggers, routines and events.
 *
 * The client's rules, followed byte by byte (held against the real client in
 * test/integration/sql-statement-split.test.ts): a statement ends at the delimiter wherever it
 * stands outside strings and comments, also mid-line (`INSERT …; USE other;` is two statements);
 * strings in '…' and "…" honour backslash escapes, `…` does not, and all of them span lines (a
 * table named "c;" + line break + "USE x" is one name, not a statement ending in "c"; an audit
 * found the earlier line-by-line reading refusing such a dump of ours); `#` and `-- ` start a
 * comment to the end of the line, `/* … *\/` a comment, while a versioned `/*!40000 … *\/` is SQL
 * the server runs. The client's own `DELIMITER x` is read at the start of a line between
 * statements (in binary mode its only command besides `\C`; `use` is the server's statement, ended
 * by the delimiter like any other). A versioned comment for version 999999 (MariaDB's sandbox
 * line) is SQL for no server. Fed text in chunks of any size; keeps each statement's first
 * HEAD_BYTES only.
 */
import { definerNamed, databaseNamed, isCreate, type DatabaseStatement } from './sql-statement-head.js';

const HEAD_BYTES = 1024;
/** Of a line between statements, the start looked at for the client's DELIMITER command. */
const LINE_PROBE = 256;
/** The longest look-ahead a decision needs (`/*M!` + a version, a delimiter of up to 16 bytes). */
const LOOKAHEAD = 24;
/** A versioned comment for this version or a later one is a comment to every server. */
const NEVER_VERSION = 999999;
/** Distinct definers kept (a dump has a handful). */
const DEFINERS_KEPT = 100;

const NL = 0x0a, BACKSLASH = 0x5c, SQ = 0x27, DQ = 0x22, BT = 0x60, SLASH = 0x2f, STAR = 0x2a, DASH = 0x2d, HASH = 0x23;
const isSpace = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
/** A comment's opening; a versioned one's version (digits, maybe none) in [1]. */
const COMMENT_OPENING = /^\/\*(?:M?!(\d*))?/;

/** The client's command: a line whose first word begins with "delimiter", and its argument. */
const DELIMITER_COMMAND = /^\s*delimiter\S*(?:[ \t]+(\S+))?/i;

function stopsFor(delimiter: Buffer): Uint8Array {
  const stops = new Uint8Array(256);
  for (const b of [NL, BACKSLASH, SQ, DQ, BT, SLASH, DASH, HASH, delimiter[0]!]) stops[b] = 1;
  return stops;
}

export class SqlStatementScan {
  /** The first statement found that names a database other than the one given. */
  foreign: DatabaseStatement | undefined;
  /** Bytes of the longest statement (from its first byte to its delimiter). */
  longestStatement = 0;
  /** The definers (`user@host`, unquoted) its CREATE statements name, in order of appearance. */
  readonly definers = new Set<string>();

  private delimiter = Buffer.from(';');
  /** Bytes that may end a run of plain SQL: 1 for each (line breaks, quotes, comment starts, the delimiter's first byte). */
  private codeStops = stopsFor(this.delimiter);
  /** Inside a string or quoted name: its quote; else 0. */
  private quote = 0;
  private blockComment = false;
  private lineComment = false;
  /** The rest of a DELIMITER line, which the client takes as its command's. */
  private commandLine = false;
  private atLineStart = true;
  /** Bytes of the statement being read, comments included (0: none open). */
  private statementBytes = 0;
  /** The open statement holds SQL, not only comments and spaces: the server will run it. */
  private hasCode = false;
  /**
   * The client's buffer holds something, if only a comment or spaces (with --comments it keeps
   * them): then a DELIMITER line is no command but text of the statement.
   */
  private pending = false;
  /** Right after a delimiter, on its line: spaces go with the statement just sent. */
  private afterDelimiter = false;
  /** The open statement's first bytes of SQL (a comment stands as one space). */
  private head = Buffer.alloc(HEAD_BYTES);
  private headBytes = 0;
  /** The text ended with a statement open (end()). */
  private cutOff = false;
  /** Bytes held back from the last chunk: a decision needs the ones after them. */
  private carry: Buffer | undefined;

  /**
   * `database`: the one the text is for; without it, no statement is looked for. `onStatement`:
   * told each statement's head as read (comments as one space), for the test that holds this
   * splitting against the client's own.
   */
  constructor(
    private readonly database?: string,
    private readonly onStatement?: (head: string) => void,
  ) {}

  see(chunk: Buffer): void {
    const text = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    this.read(text, false);
  }

  /** The text ended: what was held back is read, and an open statement measured and looked at. */
  end(): void {
    const rest = this.carry;
    this.carry = undefined;
    if (rest) this.read(rest, true);
    this.cutOff = this.hasCode;
    if (this.hasCode) this.endStatement(0);
  }

  /** Whether the text ended inside a statement, a string, a comment or a routine's DELIMITER block. */
  get endsInsideStatement(): boolean {
    return this.cutOff || this.quote !== 0 || this.blockComment || this.delimiter.toString('latin1') !== ';';
  }

  private read(text: Buffer, final: boolean): void {
    const n = text.length;
    let i = 0;
    // Holds back text[i…] when the decision at i needs bytes that have not come yet.
    const waitFor = (bytes: number) => {
      if (final || i + bytes <= n) return false;
      this.carry = Buffer.from(text.subarray(i));
      return true;
    };
    while (i < n) {
      if (this.atLineStart && !this.pending && this.quote === 0 && !this.blockComment && !this.commandLine) {
        const nl = text.indexOf(NL, i);
        if (nl === -1 && waitFor(LINE_PROBE)) return;
        this.atLineStart = false;
        const command = DELIMITER_COMMAND.exec(text.subarray(i, Math.min(nl === -1 ? n : nl, i + LINE_PROBE)).toString('latin1'));
        if (command) {
          this.setDelimiter(command[1]);
          this.commandLine = true;
        }
        continue;
      }
      this.atLineStart = false;
      const b = text[i]!;
      if (this.commandLine || this.lineComment) {
        const nl = text.indexOf(NL, i);
        const stop = nl === -1 ? n : nl;
        if (this.statementBytes > 0) this.statementBytes += stop - i;
        i = stop;
        if (nl !== -1) this.commandLine = this.lineComment = false;
        continue;
      }
      if (this.quote !== 0) {
        // Most of a dump's bytes are in strings: run to the quote or a backslash, which escapes
        // the byte after it (a quote, a backslash, a line break) except in `…`.
        const q = this.quote;
        const escapes = q !== BT;
        let j = i;
        while (j < n) {
          const c = text[j];
          if (c === q || (escapes && c === BACKSLASH)) break;
          j++;
        }
        if (j === n || text[j] === q) {
          if (j < n) this.quote = 0;
          j = Math.min(n, j + 1);
        } else {
          if (j + 1 >= n && waitFor(j + 2 - i)) return;
          j = Math.min(n, j + 2);
        }
        this.takeRun(text, i, j);
        i = j;
        continue;
      }
      if (b === NL) {
        // The client adds a line break to its buffer only behind something.
        if (this.pending) this.take(b, false);
        this.atLineStart = true;
        this.afterDelimiter = false;
        i++;
        continue;
      }
      if (this.blockComment) {
        const star = text.indexOf(STAR, i);
        const stop = star === -1 ? n : star;
        if (this.statementBytes > 0) this.statementBytes += stop - i;
        i = stop;
        if (star === -1) continue;
        if (waitFor(2)) return;
        if (text[i + 1] === SLASH) this.blockComment = false;
        const end = text[i + 1] === SLASH ? 2 : 1;
        if (this.statementBytes > 0) this.statementBytes += end;
        i += end;
        continue;
      }
      if (this.hasCode && this.codeStops[b] === 0) {
        // Inside a statement, SQL up to the next byte that may mean something.
        const stops = this.codeStops;
        let j = i + 1;
        while (j < n && stops[text[j]!] === 0) j++;
        this.takeRun(text, i, j);
        i = j;
        continue;
      }
      // Outside strings and comments.
      const dl = this.delimiter.length;
      if (b === this.delimiter[0]) {
        if (waitFor(dl)) return;
        if (text.subarray(i, i + dl).equals(this.delimiter)) {
          this.endStatement(dl);
          i += dl;
          continue;
        }
      }
      if (b === BACKSLASH) {
        // A client command (`\C`; others are refused in binary mode) or `\N`: two bytes, no quote.
        if (waitFor(2)) return;
        this.take(b, true);
        if (i + 1 < n && text[i + 1] !== NL) this.take(text[i + 1]!, true);
        i += text[i + 1] === NL ? 1 : 2;
        continue;
      }
      if (b === HASH || b === DASH) {
        if (b === DASH && waitFor(3)) return;
        if (b === HASH || (text[i + 1] === DASH && (i + 2 >= n || isSpace(text[i + 2])))) {
          this.lineComment = true;
          this.takeSpace();
          continue;
        }
      }
      if (b === SLASH) {
        if (waitFor(LOOKAHEAD)) return;
        const opening = COMMENT_OPENING.exec(text.subarray(i, i + LOOKAHEAD).toString('latin1'));
        // A comment; a versioned one is SQL, unless it is for no server (MariaDB's sandbox line).
        if (opening && (opening[1] === undefined || Number(opening[1]) >= NEVER_VERSION)) {
          this.blockComment = true;
          this.pending = true;
          this.takeSpace();
          this.statementBytes += this.statementBytes > 0 ? 2 : 0;
          i += 2;
          continue;
        }
      }
      if (b === SQ || b === DQ || b === BT) this.quote = b;
      this.take(b, !isSpace(b));
      i++;
    }
  }

  /** A byte of the client's buffer; `code`: SQL that opens a statement (not a space between statements). */
  private take(b: number, code: boolean): void {
    if (!(this.afterDelimiter && !code)) this.pending = true;
    this.afterDelimiter &&= !code;
    if (!this.hasCode && !code) {
      if (this.statementBytes > 0) this.statementBytes++;
      return;
    }
    this.hasCode = true;
    this.statementBytes++;
    if (this.headBytes < HEAD_BYTES) this.head[this.headBytes++] = b;
  }

  /** Bytes text[from…to) of an open statement's SQL. */
  private takeRun(text: Buffer, from: number, to: number): void {
    this.pending = true;
    this.hasCode = true;
    this.afterDelimiter = false;
    this.statementBytes += to - from;
    if (this.headBytes < HEAD_BYTES) this.headBytes += text.copy(this.head, this.headBytes, from, Math.min(to, from + HEAD_BYTES - this.headBytes));
  }

  /** A comment: one space in the statement's head. */
  private takeSpace(): void {
    if (this.hasCode && this.headBytes < HEAD_BYTES) this.head[this.headBytes++] = 0x20;
  }

  private endStatement(delimiterBytes: number): void {
    if (this.hasCode) {
      this.longestStatement = Math.max(this.longestStatement, this.statementBytes + delimiterBytes);
      const head = this.head.subarray(0, this.headBytes).toString('utf8');
      this.onStatement?.(head);
      // A statement whose text is the client's command is run as one (`DELIMITER $$` after a
      // statement on the same line reaches the client so).
      const command = DELIMITER_COMMAND.exec(head);
      if (command) this.setDelimiter(command[1]);
      else this.look(head);
    }
    this.statementBytes = 0;
    this.hasCode = false;
    this.headBytes = 0;
    this.pending = false;
    this.afterDelimiter = true;
  }

  private look(head: string): void {
    const database = databaseNamed(head);
    if (database !== undefined && this.database !== undefined && database !== this.database) this.foreign ??= { line: head.trim().slice(0, 160), database };
    const definer = isCreate(head) ? definerNamed(head) : undefined;
    if (definer !== undefined && this.definers.size < DEFINERS_KEPT) this.definers.add(definer);
  }

  /** The client's DELIMITER command: without an argument it refuses and keeps the delimiter. */
  private setDelimiter(arg: string | undefined): void {
    if (!arg) return;
    this.delimiter = Buffer.from(arg.replace(/^(['"`])(.+)\1$/, '$2'), 'latin1');
    this.codeStops = stopsFor(this.delimiter);
  }
}

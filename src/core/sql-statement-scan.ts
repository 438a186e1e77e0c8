/**
 * Reads SQL text line by line as the `mariadb` client splits it into statements, for three
 * questions a restore must answer before it drops anything:
 *
 * - **Does it switch to another database?** A line that starts a statement with `USE x`,
 *   `CREATE`/`DROP`/`ALTER DATABASE x` (or SCHEMA). A dump made with `mariadb-dump --databases` or
 *   `--all-databases` (an old server's backup, say) has them; loaded into DB_NAME it recreates
 *   DB_NAME empty and writes everything into the databases it names (with --all-databases `mysql`
 *   and every other database too), and Elexis restarts on an empty database. A plain dump of a
 *   database with another name has `ALTER DATABASE x` lines around its routines (mariadb-dump
 *   writes them when a routine was made under another character set), which would change, or fail
 *   on, that other database. Statements naming `database` itself are fine.
 * - **How long is its longest statement?** The client sends each statement as one packet, and the
 *   server refuses one longer than its max_allowed_packet (a document of 9 MB is an INSERT of
 *   19 MB with --hex-blob): the load would stop halfway, after the database was dropped.
 * - **Does it end inside a statement?** A file cut off inside a routine's body (between
 *   `DELIMITER ;;` and `DELIMITER ;`) or a statement is not whole, whatever its last line says.
 * - **Which MariaDB users own its views, triggers, routines and events?** The `DEFINER=` of each
 *   `CREATE` (in its first lines, as mariadb-dump writes it). Creating an object owned by another
 *   user takes the SET USER (or SUPER) privilege: without it the load stops there, after the
 *   database was dropped.
 *
 * As the client does, a line is looked at as a statement's start only when no statement is open
 * (the previous one ended with the delimiter): inside a routine's body, a comment line such as
 * `-- Use this procedure after the import.` is body, not a command. `DELIMITER` lines change the
 * delimiter. Fed text in chunks of any size; keeps only each line's first and last bytes.
 */
const LINE_HEAD = 160;
const LINE_TAIL = 64;
const STATEMENT =
  /^\s*(USE|(?:CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA))\s+(?:\/\*[^*]*\*\/\s*)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[\w$]+)/i;
const DELIMITER = /^\s*DELIMITER\s+(\S+)/i;
/** The opening of a versioned comment (`/*!40000 …`, MariaDB's `/*M!100101 …`): the server runs its text as SQL. */
const VERSIONED = /^\s*\/\*M?!\d*\s?/;
/** A statement that can name a definer: `CREATE …`, also inside a versioned comment (`/*!50001 CREATE`). */
const CREATE = /^\s*(?:\/\*!\d*\s*)?CREATE\b/i;
/** A user or host name as written: quoted with backticks, single or double quotes, or bare. */
const NAME_PART = String.raw`(\`(?:[^\`]|\`\`)*\`|'(?:[^'\\]|''|\\.)*'|"(?:[^"]|"")*"|[\w.$%-]+)`;
const DEFINER = new RegExp(String.raw`\bDEFINER\s*=\s*${NAME_PART}\s*@\s*${NAME_PART}`, 'i');
/** Lines of a CREATE statement looked at for its DEFINER (a view's is on its second line). */
const DEFINER_LINES = 3;
/** Distinct definers kept (a dump has a handful). */
const DEFINERS_KEPT = 100;

/** An identifier or string as written, unquoted. */
function unquote(part: string): string {
  const q = part[0];
  if (q === '`' || q === '"') return part.slice(1, -1).replaceAll(q + q, q);
  if (q === "'") return part.slice(1, -1).replace(/''/g, "'").replace(/\\(.)/g, '$1');
  return part;
}

export interface DatabaseStatement {
  /** The line's start as written (at most LINE_HEAD characters). */
  line: string;
  /** The database it names, unquoted. */
  database: string;
}

export class SqlStatementScan {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail = Buffer.alloc(0);
  private lineBytes = 0;
  private delimiter = ';';
  /** Bytes of the statement read so far (0: none open). */
  private statementBytes = 0;
  /** The first statement found that names a database other than the one given. */
  foreign: DatabaseStatement | undefined;
  /** Bytes of the longest statement (its lines with their line breaks). */
  longestStatement = 0;
  /** The definers (`user@host`, unquoted) its CREATE statements name, in order of appearance. */
  readonly definers = new Set<string>();
  /** Lines still to look at for a DEFINER (from a CREATE on). */
  private definerLines = 0;

  /** `database`: the one the text is for; without it, no statement is looked for. */
  constructor(private readonly database?: string) {}

  see(text: Buffer): void {
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf(0x0a, start);
      const end = nl === -1 ? text.length : nl;
      if (this.headBytes < LINE_HEAD) {
        const part = text.subarray(start, Math.min(end, start + LINE_HEAD - this.headBytes));
        this.head.push(Buffer.from(part));
        this.headBytes += part.length;
      }
      const piece = text.subarray(Math.max(start, end - LINE_TAIL), end);
      this.tail = piece.length >= LINE_TAIL ? Buffer.from(piece) : Buffer.concat([this.tail, piece]).subarray(-LINE_TAIL);
      this.lineBytes += end - start;
      if (nl === -1) return;
      this.lineBytes += 1;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The last line, when the text does not end with a line break. */
  end(): void {
    if (this.lineBytes > 0) this.endLine();
    this.longestStatement = Math.max(this.longestStatement, this.statementBytes);
  }

  /** Whether the text ended inside a statement or a routine's DELIMITER block. */
  get endsInsideStatement(): boolean {
    return this.statementBytes > 0 || this.delimiter !== ';';
  }

  private endLine(): void {
    const head = Buffer.concat(this.head).toString('utf8');
    const last = this.tail.toString('utf8').trimEnd();
    const bytes = this.lineBytes;
    this.head = [];
    this.headBytes = 0;
    this.tail = Buffer.alloc(0);
    this.lineBytes = 0;
    // Also on a line of its own that looks like a comment: a view's `/*!50001 CREATE ALGORITHM=… */`
    // is one, followed by `/*!50013 DEFINER=… */`, and the client runs both as SQL.
    if (this.statementBytes === 0 && CREATE.test(head)) this.definerLines = DEFINER_LINES;
    if (this.definerLines > 0) {
      this.definerLines--;
      this.lookForDefiners(head);
    }
    if (this.statementBytes === 0) {
      const text = head.trimStart();
      // Between statements: blank lines and comments belong to none (also a line that is one
      // `/* … */` comment, e.g. MariaDB's first line `/*M!999999\- enable the sandbox mode */`);
      // DELIMITER is the client's.
      const comment = text.startsWith('/*') && last.endsWith('*/') && !text.slice(2, -2).includes('*/');
      // A versioned one is SQL to the server: `/*!40000 DROP DATABASE x */` drops x (found by an audit).
      if (comment && VERSIONED.test(text)) this.lookForDatabase(head);
      if (text === '' || text.startsWith('--') || text.startsWith('#') || comment) return;
      const delimiter = DELIMITER.exec(head);
      if (delimiter) {
        this.delimiter = delimiter[1]!;
        return;
      }
      // `use x` is a client command of its own line, with or without the delimiter.
      if (this.lookForDatabase(head) === 'use') return;
    }
    this.statementBytes += bytes;
    if (last.endsWith(this.delimiter)) {
      this.longestStatement = Math.max(this.longestStatement, this.statementBytes);
      this.statementBytes = 0;
      this.definerLines = 0;
    }
  }

  /** A CREATE names one DEFINER: the first found ends the look (a routine's body may hold the word). */
  private lookForDefiners(line: string): void {
    const m = DEFINER.exec(line);
    if (!m) return;
    this.definerLines = 0;
    if (this.definers.size < DEFINERS_KEPT) this.definers.add(`${unquote(m[1]!)}@${unquote(m[2]!)}`);
  }

  /** Notes a statement on another database; returns 'use' for a USE line. */
  private lookForDatabase(line: string): 'use' | undefined {
    const m = STATEMENT.exec(line.replace(VERSIONED, ''));
    if (!m) return undefined;
    const name = m[2]!.startsWith('`') ? m[2]!.slice(1, -1).replace(/``/g, '`') : m[2]!;
    if (this.database !== undefined && name !== this.database) this.foreign ??= { line: line.trim(), database: name };
    return m[1]!.toUpperCase() === 'USE' ? 'use' : undefined;
  }
}

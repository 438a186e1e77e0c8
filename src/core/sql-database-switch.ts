/**
 * Statements at the start of a line of SQL text that choose, create or drop a whole database:
 * `USE x`, `CREATE DATABASE x` (or SCHEMA), `DROP DATABASE x`. A dump made with `mariadb-dump
 * --databases` or `--all-databases` (an old server's backup, say) has them; loaded into DB_NAME it
 * recreates DB_NAME empty and then writes everything into the databases it names, so Elexis
 * restarts on an empty database (or, with --all-databases, `mysql` and every other database are
 * overwritten). The restore refuses such a file unless every one names DB_NAME itself.
 *
 * Fed text in chunks of any size; looks only at the first bytes of each line, so memory is fixed.
 */
const LINE_HEAD = 160;
const STATEMENT = /^\s*(USE|CREATE\s+(?:DATABASE|SCHEMA)|DROP\s+(?:DATABASE|SCHEMA))\s+(?:\/\*[^*]*\*\/\s*)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[\w$]+)/i;

export interface DatabaseStatement {
  /** The line's start as written (at most LINE_HEAD characters). */
  line: string;
  /** The database it names, unquoted. */
  database: string;
}

export class DatabaseSwitchScan {
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The first statement found that names a database other than `database`. */
  foreign: DatabaseStatement | undefined;

  constructor(private readonly database: string) {}

  see(text: Buffer): void {
    let start = 0;
    while (start < text.length && !this.foreign) {
      const nl = text.indexOf(0x0a, start);
      const end = nl === -1 ? text.length : nl;
      if (this.headBytes < LINE_HEAD) {
        const part = text.subarray(start, Math.min(end, start + LINE_HEAD - this.headBytes));
        this.head.push(Buffer.from(part));
        this.headBytes += part.length;
      }
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The last line, when the text does not end with a line break. */
  end(): void {
    if (this.headBytes > 0) this.endLine();
  }

  private endLine(): void {
    const line = Buffer.concat(this.head).toString('utf8');
    this.head = [];
    this.headBytes = 0;
    if (this.foreign) return;
    const m = STATEMENT.exec(line);
    if (!m) return;
    const name = m[2]!.startsWith('`') ? m[2]!.slice(1, -1).replace(/``/g, '`') : m[2]!;
    if (name !== this.database) this.foreign = { line: line.trim(), database: name };
  }
}

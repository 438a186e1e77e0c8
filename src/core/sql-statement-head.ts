/**
 * What a restore looks for in each statement of a SQL file, by the statement's first bytes (its
 * head, as ./sql-statement-scan.ts reads it: comments as one space, versioned comments kept):
 *
 * - **Does it switch to another database?** A statement that starts with `USE x`,
 *   `CREATE`/`DROP`/`ALTER DATABASE x` (or SCHEMA). A dump made with `mariadb-dump --databases` or
 *   `--all-databases` (an old server's backup, say) has them; loaded into DB_NAME it recreates
 *   DB_NAME empty and writes everything into the databases it names (with --all-databases `mysql`
 *   and every other database too), and Elexis restarts on an empty database. A plain dump of a
 *   database with another name has `ALTER DATABASE x` lines around its routines (mariadb-dump
 *   writes them when a routine was made under another character set), which would change, or fail
 *   on, that other database. Statements naming the restore's database itself are fine.
 * - **Which MariaDB user owns what it creates?** The `DEFINER=` of a view, trigger, routine or
 *   event (in its first bytes, as mariadb-dump writes it). Creating an object owned by another
 *   user takes the SET USER (or SUPER) privilege: without it the load stops there, after the
 *   database was dropped.
 *
 * (The scan also measures statements, whose longest the server must take as one packet, and tells
 * a file that ends inside one.)
 */
const STATEMENT =
  /^\s*(USE|(?:CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA))\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[\w$]+)/i;
/** A versioned comment's opening (`/*!40000 …`, MariaDB's `/*M!100101 …`) or a closing: the server runs the text between as SQL. */
const VERSIONED = /\/\*M?!\d*|\*\//g;
/** A statement that can name a definer. */
const CREATE = /^\s*CREATE\b/i;
/** A user or host name as written: quoted with backticks, single or double quotes, or bare. */
const NAME_PART = String.raw`(\`(?:[^\`]|\`\`)*\`|'(?:[^'\\]|''|\\.)*'|"(?:[^"]|"")*"|[\w.$%-]+)`;
const DEFINER = new RegExp(String.raw`\bDEFINER\s*=\s*${NAME_PART}\s*@\s*${NAME_PART}`, 'i');

export interface DatabaseStatement {
  /** The statement's start as written, comments left out (at most 160 characters). */
  line: string;
  /** The database it names, unquoted. */
  database: string;
}

/** An identifier or string as written, unquoted. */
function unquote(part: string): string {
  const q = part[0];
  if (q === '`' || q === '"') return part.slice(1, -1).replaceAll(q + q, q);
  if (q === "'") return part.slice(1, -1).replace(/''/g, "'").replace(/\\(.)/g, '$1');
  return part;
}

/** The text the server runs: versioned comments' openings and closings as spaces. */
const sqlOf = (head: string) => head.replace(VERSIONED, ' ');

/** The database a USE or CREATE/DROP/ALTER DATABASE statement names, unquoted; else undefined. */
export function databaseNamed(head: string): string | undefined {
  const m = STATEMENT.exec(sqlOf(head));
  if (!m) return undefined;
  return m[2]!.startsWith('`') ? m[2]!.slice(1, -1).replace(/``/g, '`') : m[2]!;
}

export function isCreate(head: string): boolean {
  return CREATE.test(sqlOf(head));
}

/** A CREATE's definer as `user@host`, unquoted: the first DEFINER= found (a routine's body may hold the word). */
export function definerNamed(head: string): string | undefined {
  const m = DEFINER.exec(sqlOf(head));
  return m ? `${unquote(m[1]!)}@${unquote(m[2]!)}` : undefined;
}

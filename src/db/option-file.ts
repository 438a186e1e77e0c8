/**
 * How the MariaDB clients get their connection settings and credentials.
 *
 * The password never appears on a command line or in a child's environment (both are visible to
 * other users via `ps`/`/proc`). Each client run gets a private option file (`[client]` section,
 * mode 0600, in a fresh mkdtemp directory, mode 0700) passed as `--defaults-extra-file=<file>` (it
 * must be the first argument); the directory is removed when the child has exited. Caveat of
 * `--defaults-extra-file`: the clients still read the global option files before it and the user's
 * `~/.my.cnf` after it, so a `~/.my.cnf` of the service user that sets `password`/`user`/`host`
 * would win over these settings.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Where and as whom the clients connect; the password reaches them only through the option file. */
export interface DbSettings {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  ssl?: { ca?: string; cert?: string; key?: string; verifyServerCert?: boolean };
}

/**
 * Quote a value for a MariaDB option file: inside double quotes `#` is not a comment, and the
 * parser (mysys my_default.c) unescapes \\ \" \' \n \r \t \b.
 */
export function quoteOptionValue(value: string): string {
  if (value.includes('\0')) throw new Error('option value must not contain a NUL character');
  const escaped = value.replace(/[\\"'\n\r\t\b]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\b':
        return '\\b';
      default:
        return `\\${c}`;
    }
  });
  return `"${escaped}"`;
}

/** The `[client]` option file for `db` (contains the password: write it 0600 only). */
export function optionFileContent(db: DbSettings): string {
  if (!Number.isInteger(db.port) || db.port < 1 || db.port > 65535) throw new Error(`invalid MariaDB port ${db.port}`);
  const lines = ['[client]', `user=${quoteOptionValue(db.user)}`];
  // Undefined: no password line at all (an option file may supply one); '' = explicitly none.
  if (db.password !== undefined) lines.push(`password=${quoteOptionValue(db.password)}`);
  lines.push(`host=${quoteOptionValue(db.host)}`, `port=${db.port}`);
  if (db.ssl) {
    lines.push('ssl');
    if (db.ssl.ca) lines.push(`ssl-ca=${quoteOptionValue(db.ssl.ca)}`);
    if (db.ssl.cert) lines.push(`ssl-cert=${quoteOptionValue(db.ssl.cert)}`);
    if (db.ssl.key) lines.push(`ssl-key=${quoteOptionValue(db.ssl.key)}`);
    if (db.ssl.verifyServerCert === true) lines.push('ssl-verify-server-cert');
    else if (db.ssl.verifyServerCert === false) lines.push('skip-ssl-verify-server-cert');
  }
  return `${lines.join('\n')}\n`;
}

/** argv of a client run: the option file must come first (the clients ignore it anywhere else). */
export function clientArgs(defaultsFile: string, args: readonly string[]): string[] {
  return [`--defaults-extra-file=${defaultsFile}`, ...args];
}

/** Run `fn` with a private option file for `db`; the file and its directory are removed afterwards. */
export async function withDefaultsFile<T>(db: DbSettings, fn: (file: string) => Promise<T>): Promise<T> {
  const content = optionFileContent(db);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'oob-mariadb-'));
  try {
    await chmod(tmpDir, 0o700);
    const file = path.join(tmpDir, 'client.cnf');
    await writeFile(file, content, { mode: 0o600, flag: 'wx' });
    return await fn(file);
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

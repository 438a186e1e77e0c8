/**
 * Running one of the stock MariaDB command-line clients (`mariadb-dump`, `mariadb`): spawn without
 * credentials in the environment, keep the tail of its stderr, kill it on abort (SIGTERM, SIGKILL
 * after 5 s), and turn a failed run into a DbCommandError that says what failed and why.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const DUMP_BIN = 'mariadb-dump';
export const CLIENT_BIN = 'mariadb';
const STDERR_KEEP = 2000;
const KILL_GRACE_MS = 5000;
/** Client-side limit for one row/statement; the server's own max_allowed_packet still applies. */
export const MAX_ALLOWED_PACKET = '1G';
/**
 * Every `mariadb` run that reads SQL gets these: the file is SQL for the server, never commands for
 * the client. Without them a line `\! id`, `system …`, `\. file`, `source …` or `tee …` in an
 * uploaded (or tampered) dump runs on the worker, as root in the image. `--binary-mode` turns off
 * every client command but `\C` and `DELIMITER` in non-interactive input (the others become
 * "Unknown command", word forms like `system` a SQL syntax error) and keeps `\r\n` and NUL bytes
 * as they are; `--sandbox` refuses whatever still touches files or runs programs ("Not allowed in
 * the sandbox mode"). mariadb-dump's own output (routines and triggers with DELIMITER,
 * `--hex-blob`, escaped `\r` and `\0` in strings) loads the same (test/integration/mariadb.test.ts).
 * `--sandbox` came with MariaDB 10.5.25, 10.6.18, 10.11.8 and 11.0.6 (MDEV-33727, 2024); an older
 * client refuses the option before it runs anything (see `clientTooOld`).
 */
export const SAFE_CLIENT_ARGS: readonly string[] = ['--binary-mode', '--sandbox'];
const DB_NAME_RE = /^[A-Za-z0-9_]+$/;

/** A MariaDB client exited non-zero, was killed, or produced an incomplete dump. */
export class DbCommandError extends Error {
  override readonly name = 'DbCommandError';
  constructor(
    message: string,
    /** Exit code of the client; null when it was killed by a signal or did not fail itself. */
    readonly exitCode: number | null,
    /** Trimmed stderr of the client, at most its last STDERR_KEEP characters. */
    readonly stderr: string,
    readonly command: string,
  ) {
    super(message);
  }
}

/** Refuses a database name that could not be passed on as it is (argv, SQL identifier). */
export function assertDbName(name: string): void {
  if (!DB_NAME_RE.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)} (allowed: A-Z a-z 0-9 _)`);
}

/** How a client run ended. */
export interface ClientExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** kill() or the abort signal ended it (its non-zero exit is then no failure of its own). */
  killedByUs: boolean;
}

export interface ClientRun {
  child: ChildProcess;
  done: Promise<ClientExit>;
  kill: () => void;
}

/**
 * Start `bin` with `args`. `done` settles when it has exited (it rejects only when the client could
 * not be started, e.g. not on PATH); `kill` ends it (SIGTERM, SIGKILL after 5 s), as does `signal`.
 */
export function runClient(bin: string, args: string[], stdio: ['ignore' | 'pipe', 'ignore' | 'pipe', 'pipe'], signal?: AbortSignal): ClientRun {
  // No credentials through the environment either (MYSQL_PWD would be visible in /proc/<pid>/environ
  // to the same user, and would override nothing we want anyway); DB_PASSWORD and the other secret
  // variables are out of the process's environment since start (runtime/config.ts withholdSecrets).
  const env = { ...process.env };
  delete env.MYSQL_PWD;
  const child = spawn(bin, args, { stdio, env });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
    if (stderr.length > 4 * STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
  });
  let killedByUs = false;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killedByUs = true;
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    killTimer.unref();
  };
  const onAbort = () => kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) kill();
  const done = new Promise<ClientExit>((resolve, reject) => {
    child.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const code = (err as NodeJS.ErrnoException).code;
      reject(code === 'ENOENT' ? new Error(`${bin} not found on PATH (install the MariaDB client)`, { cause: err }) : err);
    });
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolve({ code, signal: sig, stderr: tailChars(stderr.trim(), STDERR_KEEP), killedByUs });
    });
  });
  // A spawn error also surfaces through the streams; keep an unobserved `done` from crashing.
  done.catch(() => undefined);
  return { child, done, kill };
}

/** The error for a client run that failed: what failed, its exit code or signal, the end of its stderr. */
export function commandError(bin: string, exit: ClientExit, what: string): DbCommandError {
  const how = exit.code !== null ? `exit code ${exit.code}` : `killed by ${exit.signal ?? 'a signal'}`;
  const detail = exit.stderr ? `: ${tailChars(exit.stderr, 500)}` : '';
  return new DbCommandError(`${what}: ${bin} ${how}${detail}`, exit.code, exit.stderr, bin);
}

/** The error for an aborted client run (name AbortError, the abort reason as its cause). */
export function abortError(signal: AbortSignal, message: string, cause: unknown): Error {
  const err = new Error(message, { cause: signal.reason ?? cause });
  err.name = 'AbortError';
  return err;
}

function tailChars(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(-n)}`;
}

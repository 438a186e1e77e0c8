/**
 * A child process (rclone, age) whose failure is told in words: its exit code and the last lines
 * of its stderr, with every secret it might echo (values of the rclone config) blanked out. The
 * caller streams through its stdin/stdout; `done` settles when the process has exited.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/** Enough of stderr to explain a failure; the rest is dropped so memory stays bounded. */
const STDERR_KEEP = 8 * 1024;

export interface Child {
  proc: ChildProcess;
  /** Resolves when the process exits with 0; rejects with a readable message otherwise. */
  done: Promise<void>;
  /** Ends the process (on abort or when the other side of the pipe failed). */
  kill(): void;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /** Strings that must never appear in a message (e.g. rclone config values). */
  secrets?: readonly string[];
  signal?: AbortSignal;
  /** What the process does, for the message ("upload to s3:bucket"). */
  what: string;
  /**
   * Sees each line of stderr before it is kept for the message: returns the text to keep, or
   * undefined to drop the line (e.g. rclone's JSON progress lines, read for the job's progress).
   */
  stderrLine?: (line: string) => string | undefined;
}

export function startChild(command: string, args: string[], o: ChildOptions): Child {
  const proc = spawn(command, args, { env: o.env ?? process.env, stdio: o.stdio ?? ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let partial = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    if (!o.stderrLine) {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
      return;
    }
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!.slice(-STDERR_KEEP);
    for (const line of lines) {
      const kept = o.stderrLine(line);
      if (kept !== undefined) stderr = `${stderr}${kept}\n`.slice(-STDERR_KEEP);
    }
  });
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  };
  const onAbort = () => kill();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    proc.once('error', (err) => reject(new Error(`${o.what}: cannot start ${command}: ${err.message}`)));
    proc.once('close', (code, signal) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      if (partial && o.stderrLine) stderr += o.stderrLine(partial) ?? '';
      const tail = redact(lastLines(stderr, 3), o.secrets ?? []);
      reject(new Error(`${o.what}: ${command} ${signal ? `was stopped (${signal})` : `exited with ${code}`}${tail ? `: ${tail}` : ''}`));
    });
  });
  // A failure is reported by whoever awaits `done`; this keeps an unawaited one from crashing.
  done.catch(() => undefined);
  return { proc, done, kill };
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).map((l) => l.trim()).join(' | ');
}

/** Blanks every secret out of a text; shorter values than 6 characters are not secrets worth the name. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 6) out = out.split(s).join('…');
  return out;
}

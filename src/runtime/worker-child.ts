/**
 * `npm start` runs the API in its own process and the worker as a child process (jobs/main), so
 * an archive or a restore never shares the API's event loop: while a volume is archived, the main
 * screen's requests are answered as fast as with separate containers (see BENCHMARKS.md).
 *
 * The child is forked with an IPC channel, the parent's node options (tsx's loader in development)
 * and the worker's own flags and environment (worker-process.ts). Lifetimes are tied both ways:
 * - the parent's shutdown (SIGTERM/SIGINT) sends SIGTERM to the child and waits for its graceful
 *   shutdown (it finishes or hands back its jobs within SHUTDOWN_TIMEOUT); the child has a process
 *   group of its own, so a terminal's Ctrl-C does not reach it twice;
 * - a child that exits on its own means the service no longer runs jobs: the parent exits too
 *   (code 1), so that a supervisor restarts the whole of it;
 * - a parent that dies without a shutdown (kill -9) closes the IPC channel; the child then exits at
 *   once, like a crashed worker (its jobs stall and are taken over after the restart), instead of
 *   running on unseen.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { WORKER_PROCESS_ENV, workerExecArgv } from './worker-process.js';
import { withheldSecrets } from './config.js';

/** Marks the worker process as `npm start`'s child (see exitWithParent). */
export const CHILD_ENV = 'OOB_WORKER_CHILD';

export interface WorkerChild {
  /** SIGTERM, then resolves when the child has exited (it shuts down gracefully). */
  stop(): Promise<void>;
}

export function startWorkerChild(redisUrl: string, logger: Logger): WorkerChild {
  const self = fileURLToPath(import.meta.url);
  const entry = path.join(path.dirname(self), '..', 'jobs', `main${path.extname(self)}`);
  const child: ChildProcess = fork(entry, [], {
    env: { ...WORKER_PROCESS_ENV, ...process.env, ...withheldSecrets(), REDIS_URL: redisUrl, [CHILD_ENV]: '1' },
    execArgv: workerExecArgv(process.execArgv),
    stdio: 'inherit',
    // Its own process group: a Ctrl-C in the terminal reaches only the parent, which then stops the
    // child once (a second signal would make the child exit at once instead of handing back its jobs).
    detached: true,
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (stopping) return;
    logger.error({ workerPid: child.pid, code, signal }, 'the worker process ended on its own; stopping the service so that it can be restarted');
    process.exit(1);
  });
  logger.info({ workerPid: child.pid }, 'worker process started');
  return {
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** In the worker child: exit at once when the parent is gone (its IPC channel closed). */
export function exitWithParent(logger: Logger): void {
  if (process.env[CHILD_ENV] !== '1' || !process.send) return;
  process.on('disconnect', () => {
    logger.error('the parent process (npm start) is gone; the worker exits');
    process.exit(1);
  });
}

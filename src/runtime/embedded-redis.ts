/**
 * Zero-configuration Redis for `npm start`: when REDIS_URL is unset and nothing answers on the
 * default port, run our own redis-server as a child (AOF on, noeviction, data under DATA_DIR/redis)
 * and stop it last on exit. The API and worker roles never do this: in production Redis is a service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from './logger.js';

export const NO_REDIS_MESSAGE =
  'No Redis: nothing answers on 127.0.0.1:%PORT% and redis-server is not installed; install it ' +
  '(Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL=redis://host:6379 to use an existing one.';

export interface RedisEndpoint {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export interface EnsureRedisOptions {
  dataDir: string;
  logger: Logger;
  port?: number;
  binary?: string;
}

export async function ensureRedis(opts: EnsureRedisOptions): Promise<RedisEndpoint> {
  const port = opts.port ?? 6379;
  const url = `redis://127.0.0.1:${port}`;
  if (await answersPing(port)) return { url, embedded: false, stop: async () => {} };

  const dir = path.join(opts.dataDir, 'redis');
  await fs.mkdir(dir, { recursive: true });
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--save', '',
  ];
  const child = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawned) {
    const code = (spawned as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? NO_REDIS_MESSAGE.replace('%PORT%', String(port)) : `cannot start redis-server: ${spawned.message}`);
  }
  const log = opts.logger.child({ module: 'embedded-redis' });
  child.stdout?.on('data', (b: Buffer) => log.debug(b.toString().trim()));
  child.stderr?.on('data', (b: Buffer) => log.warn(b.toString().trim()));
  await waitForPing(port, child, 10_000);
  log.info({ port, dir }, 'started embedded redis-server');
  return { url, embedded: true, stop: () => stopChild(child) };
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} at start`);
    if (await answersPing(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM'); // redis-server flushes its AOF on SIGTERM
  });
}

/** A raw PING over TCP: no client library, no reconnect loop, just "is a Redis there". */
export function answersPing(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (b) => done(b.toString().startsWith('+PONG') || b.toString().startsWith('-NOAUTH')));
  });
}

/**
 * The Redis and MariaDB the integration tests use. A machine's own services on 127.0.0.1:6379 and
 * :3306 are used when they answer (or TEST_REDIS_URL / TEST_MARIADB_HOST+PORT name others); when
 * nothing answers, a throwaway `redis-server` and `mariadbd` are started on free ports with their
 * data in a temp dir, and removed afterwards. test/run.ts does this before `node --test` and hands
 * the addresses to the tests in those variables (read by test/helpers/service.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { answersPing, ensureRedis } from '../../src/runtime/embedded-redis.js';
import { createLogger } from '../../src/runtime/logger.js';
import { freePort } from './throwaway-redis.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface TestServices {
  /** Variables for the tests: TEST_REDIS_URL, TEST_MARIADB_HOST, TEST_MARIADB_PORT. */
  env: Record<string, string>;
  /** What was found or started, one line each, for the log. */
  notes: string[];
  stop(): Promise<void>;
}

export class MissingServiceError extends Error {}

/** `host:port` of an env variable, or the default. */
function endpoint(raw: string | undefined, fallback: Endpoint): Endpoint {
  if (!raw) return fallback;
  const m = /^(.+):(\d+)$/.exec(raw);
  if (!m) throw new Error(`expected host:port, got "${raw}"`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The path of an executable in PATH (or one of `extra`), else undefined. */
export function findBinary(name: string, extra: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extra]) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A MariaDB (or MySQL) server greets first: a packet with protocol version 10. */
export function mariadbGreets({ host, port }: Endpoint, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (b: Buffer) => done(b.length > 4 && b[4] === 10));
  });
}

/**
 * Finds or starts both services. `probe`: where to look for the machine's own ones
 * (TEST_REDIS_PROBE / TEST_MARIADB_PROBE, host:port, default the standard ports).
 */
export async function ensureTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const stops: (() => Promise<void>)[] = [];
  const out: Record<string, string> = {};
  const notes: string[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    if (env.TEST_REDIS_URL) {
      out.TEST_REDIS_URL = env.TEST_REDIS_URL;
      notes.push(`Redis: ${env.TEST_REDIS_URL} (TEST_REDIS_URL)`);
    } else {
      const probe = endpoint(env.TEST_REDIS_PROBE, { host: '127.0.0.1', port: 6379 });
      if (await answersPing(probe.port, probe.host)) {
        out.TEST_REDIS_URL = `redis://${probe.host}:${probe.port}`;
        notes.push(`Redis: ${out.TEST_REDIS_URL}`);
      } else {
        if (!findBinary('redis-server')) {
          throw new MissingServiceError(`nothing answers on ${probe.host}:${probe.port} and redis-server is not installed: apt-get install redis-server (or set TEST_REDIS_URL)`);
        }
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-test-redis-'));
        const redis = await ensureRedis({ dataDir: dir, logger: createLogger('silent'), port: await freePort() });
        stops.push(async () => {
          await redis.stop();
          await fs.rm(dir, { recursive: true, force: true });
        });
        out.TEST_REDIS_URL = redis.url;
        notes.push(`Redis: nothing answers on ${probe.host}:${probe.port}; started a throwaway redis-server on ${redis.url}`);
      }
    }

    if (env.TEST_MARIADB_HOST || env.TEST_MARIADB_PORT) {
      out.TEST_MARIADB_HOST = env.TEST_MARIADB_HOST ?? '127.0.0.1';
      out.TEST_MARIADB_PORT = env.TEST_MARIADB_PORT ?? '3306';
      notes.push(`MariaDB: ${out.TEST_MARIADB_HOST}:${out.TEST_MARIADB_PORT} (TEST_MARIADB_HOST/PORT)`);
    } else {
      const probe = endpoint(env.TEST_MARIADB_PROBE, { host: '127.0.0.1', port: 3306 });
      let db = probe;
      if (await mariadbGreets(probe)) {
        notes.push(`MariaDB: ${probe.host}:${probe.port}`);
      } else {
        const m = await startMariadb(probe);
        stops.push(m.stop);
        db = m.endpoint;
        notes.push(`MariaDB: nothing answers on ${probe.host}:${probe.port}; started a throwaway mariadbd on ${db.host}:${db.port}`);
      }
      out.TEST_MARIADB_HOST = db.host;
      out.TEST_MARIADB_PORT = String(db.port);
    }
    // The tests load and dump with the clients, whichever server they talk to.
    const clients = ['mariadb', 'mariadb-dump'].filter((b) => !findBinary(b));
    if (clients.length) throw new MissingServiceError(`${clients.join(' and ')} not installed: apt-get install mariadb-client`);
    return { env: out, notes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A mariadbd in a temp datadir on a free loopback port, root without password; removed by stop(). */
async function startMariadb(probe: Endpoint): Promise<{ endpoint: Endpoint; stop: () => Promise<void> }> {
  const sbin = ['/usr/sbin', '/usr/local/sbin'];
  const server = findBinary('mariadbd', sbin);
  const install = findBinary('mariadb-install-db', [...sbin, '/usr/bin']);
  if (!server || !install) {
    throw new MissingServiceError(`nothing answers on ${probe.host}:${probe.port} and mariadbd is not installed: apt-get install mariadb-server (or set TEST_MARIADB_HOST and TEST_MARIADB_PORT)`);
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-test-mariadb-'));
  const user = os.userInfo().username; // mariadbd refuses to run as root unless told
  const data = path.join(dir, 'data');
  try {
    await run(install, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', `--user=${user}`], dir);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const child = spawn(
    server,
    [
      '--no-defaults', `--datadir=${data}`, `--socket=${path.join(dir, 'mariadbd.sock')}`, `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
      `--port=${port}`, '--bind-address=127.0.0.1', `--user=${user}`, `--log-error=${path.join(dir, 'error.log')}`,
      '--innodb-buffer-pool-size=64M', '--innodb-log-file-size=16M',
    ],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  const endpoint = { host: '127.0.0.1', port };
  const deadline = Date.now() + 60_000;
  while (!(await mariadbGreets(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await fs.readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
      await stop();
      throw new Error(`mariadbd did not start on port ${port}:\n${log.split('\n').slice(-15).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, stop };
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} exited ${code}: ${err.trim()}`))));
  });
}

/**
 * A redis-server of the test's own, on a free port with its data in a temp dir (AOF on), that the
 * test may stop, start again, or freeze (SIGSTOP: the process holds its connections but answers
 * nothing, like a Redis that swaps or hangs). The shared Redis on 6379 is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import { answersPing } from '../../src/runtime/embedded-redis.js';
import { waitFor } from './service.js';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class ThrowawayRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(dir: string): Promise<ThrowawayRedis> {
    const r = new ThrowawayRedis(await freePort(), dir);
    await r.start();
    return r;
  }

  async start(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'];
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(() => answersPing(this.port), 10_000, `redis-server on ${this.port}`);
  }

  /** SIGTERM: it writes its AOF and exits; resolves when it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
  }

  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }
}

/**
 * `npm start` whose API cannot listen (the port is taken): it stops with one clear line, and its
 * worker child stops with it. The worker used to run on as an orphan (a second start then had two
 * workers, one of them with the old configuration, taking jobs from the same queues).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { ENTRY, makeFixture, waitFor, type Fixture } from '../helpers/service.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/** Processes of this fixture (its QUEUE_PREFIX in their environment), from /proc. */
const processesOf = (prefix: string) =>
  fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`QUEUE_PREFIX=${prefix}`);
    } catch {
      return false; // gone, or not ours to read
    }
  });

describe('npm start with its port in use', () => {
  let fx: Fixture | undefined;
  const blocker = net.createServer();
  after(async () => {
    blocker.close();
    if (fx) for (const pid of processesOf(fx.prefix)) process.kill(pid, 'SIGKILL'); // an orphan must not outlive a failed test
    await fx?.cleanup();
  });

  it('exits non-zero naming the port, and leaves no worker process behind', async () => {
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    fx = await makeFixture({ PORT: String(port), HOST: '127.0.0.1' });
    const proc = spawn(process.execPath, ['--expose-gc', ENTRY.start], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...fx.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
    assert.notEqual(code, 0);
    assert.match(out, new RegExp(`oob-backup: the API could not start, nothing runs: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}`));
    await waitFor(() => processesOf(fx!.prefix).length === 0, 15_000, 'the worker child to stop');
  });
});

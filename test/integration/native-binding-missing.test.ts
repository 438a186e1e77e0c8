/**
 * A worker where the native binding (native/libdeflate) was not built, e.g. `npm ci` without
 * libdeflate-dev: with GZIP_INFLATE=auto it starts, says it inflates with zlib, and still archives
 * and verifies (the verification reads with zlib); with GZIP_INFLATE=libdeflate it refuses to start,
 * saying why. The binding is found from the project's root (src/engine/gzip/libdeflate.ts), so the
 * worker runs from a copy of the project without it: package.json, tsconfig.json and src/ copied,
 * node_modules linked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';
import { workerExecArgv, WORKER_PROCESS_ENV } from '../../src/runtime/worker-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('a worker without the native binding', () => {
  let fx: Fixture;
  let copy: string;
  const running: Service[] = [];

  before(async () => {
    fx = await makeFixture();
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    copy = path.join(fx.root, 'project');
    await fs.mkdir(copy);
    for (const f of ['package.json', 'tsconfig.json']) await fs.copyFile(path.join(ROOT, f), path.join(copy, f));
    await fs.cp(path.join(ROOT, 'src'), path.join(copy, 'src'), { recursive: true });
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  });
  after(async () => {
    for (const s of running) await s.stop();
    await fx?.cleanup();
  });

  /** The copy's worker, as startService starts one; resolves when it is ready or has exited. */
  async function startCopyWorker(inflate: string): Promise<{ out: () => string; exitCode: () => number | null; stop: () => Promise<void> }> {
    const proc = spawn(process.execPath, [...workerExecArgv(['--import', 'tsx']), 'src/jobs/main.ts'], {
      cwd: copy,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...WORKER_PROCESS_ENV, ...fx.env, GZIP_INFLATE: inflate },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await waitFor(() => /"msg":"workers started"/.test(out) || proc.exitCode !== null, 30_000, 'the worker to start or exit');
    return {
      out: () => out,
      exitCode: () => proc.exitCode,
      stop: async () => {
        if (proc.exitCode === null) proc.kill('SIGTERM');
        await exited;
      },
    };
  }

  it('GZIP_INFLATE=libdeflate: refuses to start and says why', async () => {
    const w = await startCopyWorker('libdeflate');
    await w.stop();
    assert.notEqual(w.exitCode(), 0);
    assert.doesNotMatch(w.out(), /"msg":"workers started"/);
    assert.match(w.out(), /GZIP_INFLATE=libdeflate, but the libdeflate binding cannot be loaded/);
  });

  it('GZIP_INFLATE=auto: starts, says it inflates with zlib, and archives and verifies', async () => {
    const w = await startCopyWorker('auto');
    try {
      assert.equal(w.exitCode(), null, w.out());
      const said = logLines(w.out()).filter((l) => String(l.msg).startsWith('archives are inflated by zlib'));
      assert.equal(said.length, 1);
      assert.match(String(said[0]!.why), /the libdeflate binding is not built/);
      const api = await startService('api', fx.env);
      running.push(api);
      const run = await http(api.url, 'POST', '/api/backups', {});
      assert.equal(run.status, 202, JSON.stringify(run.body));
      const jobs = await waitForJobsSettled(api.url, undefined);
      assert.ok(jobs.length >= 2 && jobs.every((j) => j.state === 'completed'), JSON.stringify(jobs.map((j) => [j.queue, j.state, j.failedReason])));
      const set = (await http(api.url, 'GET', `/api/backups/${run.body.stamp}`)).body;
      assert.equal(set.archives[0].verified?.ok, true, JSON.stringify(set.archives[0]));
      // Without the binding the worker cannot trim malloc's heap; it still collects after each job.
      const released = logLines(w.out(), 'freed memory given back after the job');
      assert.ok(released.length >= 2 && released.every((l) => l.trimmed === undefined), JSON.stringify(released));
    } finally {
      await w.stop();
    }
  });
});

/**
 * A worker where the native bindings (native/libdeflate) were not built, e.g. `npm ci` without a
 * C compiler: with GZIP_INFLATE=auto it starts, says it inflates with zlib and sets restored file
 * times to the millisecond, and still archives and verifies (the verification reads with zlib);
 * with GZIP_INFLATE=libdeflate it refuses to start, saying why. The bindings are found from the
 * project's root (src/engine/native-binding.ts), so the worker runs from a copy of the project
 * without them: package.json and the compiled dist/ copied (the tests run the service from dist/,
 * test/helpers/fresh-build.ts), node_modules linked.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines } from '../helpers/logs.js';
import { http, makeFixture, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { makeVolume } from '../helpers/volumes.js';

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
    await fs.copyFile(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    await fs.cp(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true });
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  });
  after(async () => {
    for (const s of running) await s.stop();
    await fx?.cleanup();
  });

  it('GZIP_INFLATE=libdeflate: refuses to start and says why', async () => {
    // startService throws when the process exits before it is ready, with the process's output.
    await assert.rejects(startService('worker', { ...fx.env, GZIP_INFLATE: 'libdeflate' }, { cwd: copy }), (err: Error) => {
      assert.match(err.message, /service exited early/);
      assert.doesNotMatch(err.message, /"msg":"workers started"/);
      assert.match(err.message, /GZIP_INFLATE=libdeflate, but the libdeflate binding cannot be loaded/);
      return true;
    });
  });

  it('GZIP_INFLATE=auto: starts, says it inflates with zlib, and archives and verifies', async () => {
    const [worker, api] = [await startService('worker', { ...fx.env, GZIP_INFLATE: 'auto' }, { cwd: copy }), await startService('api', fx.env)];
    running.push(worker, api);
    const said = logLines(worker.logs()).filter((l) => String(l.msg).startsWith('archives are inflated by zlib'));
    assert.equal(said.length, 1);
    assert.match(String(said[0]!.why), /the libdeflate binding is not built/);
    // Nor the file times binding: restores set times to the millisecond, and the worker says so.
    const times = logLines(worker.logs()).filter((l) => String(l.msg).startsWith('restores set file times to the millisecond'));
    assert.equal(times.length, 1);
    assert.match(String(times[0]!.why), /oob_file_times\.node/);
    const run = await http(api.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const jobs = await waitForJobsSettled(api.url, undefined);
    assert.ok(jobs.length >= 2 && jobs.every((j) => j.state === 'completed'), JSON.stringify(jobs.map((j) => [j.queue, j.state, j.failedReason])));
    const set = (await http(api.url, 'GET', `/api/backups/${run.body.stamp}`)).body;
    assert.equal(set.archives[0].verified?.ok, true, JSON.stringify(set.archives[0]));
    // Without the binding the worker cannot trim malloc's heap; it still collects after each job.
    // (Logged once each job's "completed" event has been handled, a moment after it shows completed.)
    const released = await waitFor(() => {
      const lines = logLines(worker.logs(), 'freed memory given back after the job');
      return lines.length >= jobs.filter((j) => ['archive', 'verify'].includes(j.queue)).length ? lines : undefined;
    }, 10_000, 'a release after each job');
    assert.ok(released.every((l) => l.trimmed === undefined), JSON.stringify(released));
  });
});

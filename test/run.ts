/**
 * `npm run test:integration` (and `node --import tsx test/run.ts <node --test args>` for single
 * files): builds dist/ when src/ or ui/ changed (helpers/fresh-build.ts), makes sure a Redis and a MariaDB are there (the machine's own, or throwaway ones, see
 * helpers/test-services.ts), runs `node --import tsx --test <args>` with their addresses in the
 * environment, stops what it started, and exits with the test run's code.
 */
import { execFileSync, spawn } from 'node:child_process';
import { ensureFreshBuild } from './helpers/fresh-build.js';
import { ensureTestServices, MissingServiceError, type TestServices } from './helpers/test-services.js';

const args = process.argv.slice(2);
// The service processes the tests start run from dist/ (helpers/service.ts): compiled from today's src/.
ensureFreshBuild();
let services: TestServices;
try {
  services = await ensureTestServices();
} catch (err) {
  process.stderr.write(`test/run.ts: ${(err as Error).message}\n`);
  process.exit(err instanceof MissingServiceError ? 3 : 1);
}
for (const n of services.notes) process.stderr.write(`test/run.ts: ${n}\n`);

// Its own process group, so that whatever a test left running (a service, a test server, an
// rclone) can be found and stopped afterwards instead of living on after the run.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...args], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, ...services.env },
  detached: true,
});
const group = -child.pid!;
// Ctrl-C and CI's SIGTERM reach the whole run; we only wait for it, then clean up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => signalGroup(signal));
const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
const left = leftovers(child.pid!);
if (left.length) {
  process.stderr.write(`test/run.ts: ${left.length} processes the tests left running, killed now:\n${left.join('\n')}\n`);
  signalGroup('SIGKILL');
}
await services.stop();
process.exit(code);

function signalGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(group, signal);
  } catch {
    /* the group is gone */
  }
}

/** `pid elapsed command` of each live process still in the test run's group. */
function leftovers(pgid: number): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pgid=,stat=,pid=,etime=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([g, stat]) => g === String(pgid) && !stat!.startsWith('Z')) // a zombie is dead already
      .map(([, , ...rest]) => rest.join(' '));
  } catch {
    return [];
  }
}

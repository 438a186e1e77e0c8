/**
 * `npm run test:integration` (and `node --import tsx test/run.ts <node --test args>` for single
 * files): makes sure a Redis and a MariaDB are there (the machine's own, or throwaway ones, see
 * helpers/test-services.ts), runs `node --import tsx --test <args>` with their addresses in the
 * environment, stops what it started, and exits with the test run's code.
 */
import { spawn } from 'node:child_process';
import { ensureTestServices, MissingServiceError, type TestServices } from './helpers/test-services.js';

const args = process.argv.slice(2);
let services: TestServices;
try {
  services = await ensureTestServices();
} catch (err) {
  process.stderr.write(`test/run.ts: ${(err as Error).message}\n`);
  process.exit(err instanceof MissingServiceError ? 3 : 1);
}
for (const n of services.notes) process.stderr.write(`test/run.ts: ${n}\n`);

const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...args], {
  stdio: 'inherit',
  env: { ...process.env, ...services.env },
});
// Ctrl-C reaches the test runner too (same process group); we only wait for it, then clean up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await services.stop();
process.exit(code);

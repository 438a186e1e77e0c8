/**
 * A worker that dies with its rclone daemon running (offsite-copy.test.ts): starts one with the
 * rclone config given as its argument, prints the daemon's pid and htpasswd path, then kills
 * itself with SIGKILL, as the kernel's OOM killer would.
 */
import { readFileSync } from 'node:fs';
import { configSecrets } from '../../src/engine/offsite/rclone.js';
import { RcloneDaemon } from '../../src/engine/offsite/rclone-daemon.js';

const configFile = process.argv[2]!;
const daemon = await RcloneDaemon.start({ configFile, secrets: await configSecrets(configFile) });
const argv = readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8').split('\0');
process.stdout.write(`${JSON.stringify({ pid: daemon.pid, htpasswd: argv[argv.indexOf('--rc-htpasswd') + 1] })}\n`, () => process.kill(process.pid, 'SIGKILL'));

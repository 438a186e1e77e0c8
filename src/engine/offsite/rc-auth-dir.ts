/**
 * The private temp directory of one rclone daemon (rclone-daemon.ts): its htpasswd file (the
 * password's SHA-1 only), and the small files it reads back from the target. Created 0700 by
 * mkdtemp, removed with the daemon; one left by a worker that died is removed at the next start.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The private temp directories of the daemons' htpasswd files: `<prefix><pid of the worker>-<random>`. */
const AUTH_DIR_PREFIX = 'oob-rclone-rc-';

/** The private directory with the htpasswd file: the password's SHA-1 only. */
export async function writeAuthDir(user: string, password: string): Promise<string> {
  let dir: string | undefined;
  try {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), `${AUTH_DIR_PREFIX}${process.pid}-`));
    await fs.writeFile(path.join(dir, 'htpasswd'), `${user}:{SHA}${createHash('sha1').update(password).digest('base64')}\n`, { mode: 0o600 });
    return dir;
  } catch (err) {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    throw new Error(`rclone remote control: cannot write its password file in ${os.tmpdir()} (the temp directory): ${(err as Error).message}`, { cause: err });
  }
}

/** Directories of daemons whose worker died without removing them (a kill, a crash): removed at the next start. */
export async function sweepStaleAuthDirs(): Promise<void> {
  const tmp = os.tmpdir();
  for (const name of await fs.readdir(tmp).catch(() => [] as string[])) {
    const pid = new RegExp(`^${AUTH_DIR_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) await fs.rm(path.join(tmp, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

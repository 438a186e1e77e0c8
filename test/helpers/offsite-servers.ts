/**
 * Real off-site targets for the tests, started on free ports on 127.0.0.1 and stopped after: an
 * OpenSSH server (Debian's sshd, a temp host key, one authorized key) as an rclone SFTP remote, and
 * `rclone serve webdav` (with a user and password) as a WebDAV remote. `rcloneConfig` writes the
 * rclone config file the service is given (RCLONE_CONFIG), holding the secrets the tests then look
 * for everywhere they must not be.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { deleteRedisPrefix, type Fixture } from './service.js';

export interface TestRemote {
  /** The rclone remote's name in the config file. */
  name: string;
  /** Its section of the rclone config file. */
  section: string;
  /** Values of the config that are secrets (a test greps for them). */
  secrets: string[];
  /** The directory on this machine that holds what the remote stores. */
  dir: string;
  stop(): Promise<void>;
  /** Starts a stopped server again, on the same port with the same credentials (WebDAV only). */
  restart?(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port; rejects when the process ends first. */
async function waitForPort(port: number, proc: ChildProcess, what: string): Promise<void> {
  let ended: string | undefined;
  proc.once('exit', (code, signal) => (ended = `${what} ended (${code ?? signal})`));
  for (let i = 0; i < 500; i++) {
    if (ended) throw new Error(ended);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/**
 * Waits until the server listens; one that does not is killed before the error is thrown, so that
 * a failed start leaves nothing running (a live child keeps the test file's process from ending).
 */
async function listening(port: number, proc: ChildProcess, what: string): Promise<void> {
  try {
    await waitForPort(port, proc, what);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
}

/** SIGTERM; a server still there after 10 s is killed (a test server, not what is under test). */
async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * sshd on a free port, logging in `root` with a fresh ed25519 key; files are stored under `dir`.
 * `appendOnly`: its SFTP server refuses removals and renames (`internal-sftp -P`), like a backup
 * server that only lets clients add files.
 */
export async function startSftpServer(work: string, name = 'sftptest', o: { appendOnly?: boolean } = {}): Promise<TestRemote> {
  const dir = path.join(work, 'sftp-root');
  await fs.mkdir(dir, { recursive: true });
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation dir
  const hostKey = path.join(work, 'ssh_host_ed25519_key');
  const clientKey = path.join(work, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  const authorized = path.join(work, 'authorized_keys');
  await fs.copyFile(`${clientKey}.pub`, authorized);
  const port = await freePort();
  const config = path.join(work, 'sshd_config');
  await fs.writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${path.join(work, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `Subsystem sftp internal-sftp${o.appendOnly ? ' -P remove,rename,rmdir,posix-rename' : ''}`,
      '',
    ].join('\n'),
  );
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'ignore'] });
  await listening(port, proc, 'sshd');
  const keyPem = (await fs.readFile(clientKey, 'utf8')).trim();
  // The key goes into the config inline (key_pem), so that it is a config value a test can grep for.
  const keyLine = keyPem.split('\n').join('\\n');
  const section = [`[${name}]`, 'type = sftp', 'host = 127.0.0.1', `port = ${port}`, 'user = root', `key_pem = ${keyLine}`, 'shell_type = unix', 'md5sum_command = md5sum', 'sha1sum_command = sha1sum', ''].join('\n');
  const secretLine = keyPem.split('\n').find((l) => l.length > 40 && !l.startsWith('-----'))!;
  return { name, section, secrets: [secretLine], dir, stop: () => stopProcess(proc) };
}

/** `rclone serve webdav` of `dir` on a free port, behind a random user and password. */
export async function startWebdavServer(work: string, name = 'davtest'): Promise<TestRemote> {
  const dir = path.join(work, 'webdav-root');
  await fs.mkdir(dir, { recursive: true });
  const port = await freePort();
  const user = 'oob';
  // Hex: a base64url password may start with '-', which rclone's command line reads as an option.
  const pass = randomBytes(18).toString('hex');
  const obscured = execFileSync('rclone', ['obscure', '--', pass], { encoding: 'utf8' }).trim();
  const serve = async () => {
    const p = spawn('rclone', ['serve', 'webdav', dir, '--addr', `127.0.0.1:${port}`, '--user', user, `--pass=${pass}`, '--dir-cache-time', '0s', '--poll-interval', '0'], {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, RCLONE_CONFIG: '/dev/null' },
    });
    await listening(port, p, 'rclone serve webdav');
    return p;
  };
  let proc = await serve();
  const section = [`[${name}]`, 'type = webdav', `url = http://127.0.0.1:${port}/`, 'vendor = other', `user = ${user}`, `pass = ${obscured}`, ''].join('\n');
  return {
    name, section, secrets: [pass, obscured], dir,
    stop: () => stopProcess(proc),
    restart: async () => {
      proc = await serve();
    },
  };
}

/** Writes an rclone config file with these remotes (mode 0600, as a mounted secret would be). */
export async function rcloneConfig(file: string, remotes: TestRemote[]): Promise<string> {
  await fs.writeFile(file, remotes.map((r) => r.section).join('\n'), { mode: 0o600 });
  return file;
}

/**
 * The disaster: a new server with nothing of the old one but the target configuration. BACKUP_DIR
 * emptied, the fixture's Redis keys gone, the given volume directories emptied (kept as mount points).
 */
export async function newEmptyServer(fx: Fixture, volumeDirs: string[]): Promise<void> {
  await fs.rm(fx.backupDir, { recursive: true });
  await fs.mkdir(fx.backupDir);
  await deleteRedisPrefix(fx.prefix);
  for (const dir of volumeDirs) {
    await fs.rm(dir, { recursive: true });
    await fs.mkdir(dir);
  }
}

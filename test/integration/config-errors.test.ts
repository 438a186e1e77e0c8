/**
 * A bad configuration stops each real entry point before it connects anywhere: exit code 2 and one
 * line on stderr naming every bad variable, never a secret's value. An error that stops a process
 * later (a Redis refusing the password) is told without secrets too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ENTRY, REDIS_URL } from '../helpers/service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function run(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stderr, stdout })));
}

describe('configuration errors stop the process', () => {
  const env = {
    // Nothing listens here: a process that got past its configuration would hang or fail differently.
    REDIS_URL: 'redis://127.0.0.1:1',
    TZ: 'Europe/Zurich',
    PORT: 'eighty',
    API_TOKEN: 'secret hunter2 token',
    DB_HOST: 'db',
    DB_PASSWORD: 'hunter2',
    NOTIFY_WEBHOOK_URL: 'ftp://user:hunter2@hooks.example/x',
  };
  for (const entry of [ENTRY.api, ENTRY.worker, ENTRY.start]) {
    it(`${entry}: exit 2, every bad variable named, no secret`, async () => {
      const r = await run(entry, env);
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stderr, /^oob-backup: configuration error: PORT: must be an integer from 0 to 65535, got "eighty"; API_TOKEN: must not contain spaces or other blanks; NOTIFY_WEBHOOK_URL: not an http\(s\) URL: entry 1 of 1 uses ftp:/);
      assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    });
  }
});

describe('places that overlap, and files that are not there, stop the process at start', () => {
  // An audit lost every archive so: BACKUP_DIR under VOLUMES_DIR became a volume, each run archived
  // the backups into themselves, and a restore of that volume swapped them away.
  const bad = async (entry: string, env: (root: string) => Record<string, string>, expected: RegExp) => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-places-'));
    await fs.writeFile(path.join(root, 'file'), 'not a directory\n');
    try {
      const r = await run(entry, { REDIS_URL: 'redis://127.0.0.1:1', TZ: 'Europe/Zurich', PORT: '0', ...env(root) });
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stderr, expected);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  };
  for (const entry of [ENTRY.api, ENTRY.worker, ENTRY.start]) {
    it(`${entry}: BACKUP_DIR inside VOLUMES_DIR, or inside a volume of VOLUMES`, async () => {
      await bad(entry, (root) => ({ VOLUMES_DIR: path.join(root, 'mnt'), BACKUP_DIR: path.join(root, 'mnt', 'backup') }), /^oob-backup: configuration error: BACKUP_DIR: .*\/mnt\/backup and VOLUMES_DIR .*\/mnt overlap \(the backups are inside .*\/mnt\): every subdirectory of VOLUMES_DIR is a volume; put BACKUP_DIR outside it\n$/);
      await bad(entry, (root) => ({ VOLUMES: `elexisdb=${path.join(root, 'elexis')},docs=${path.join(root, 'docs')}`, BACKUP_DIR: path.join(root, 'elexis', 'backups') }), /^oob-backup: configuration error: VOLUMES: elexisdb=.*\/elexis and BACKUP_DIR .*\/elexis\/backups overlap \(the backups are inside .*\/elexis\); put BACKUP_DIR outside every volume\n$/);
    });
  }
  it('a BACKUP_DIR that is a file and a TLS certificate that is not there are named, not told as a stack trace', async () => {
    await bad(ENTRY.api, (root) => ({ BACKUP_DIR: path.join(root, 'file'), VOLUMES_DIR: path.join(root, 'v'), TLS_CERT_FILE: path.join(root, 'cert.pem'), TLS_KEY_FILE: path.join(root, 'key.pem') }), /^oob-backup: configuration error: BACKUP_DIR: .*\/file cannot be made or read \(EEXIST\); TLS_CERT_FILE: .*\/cert\.pem cannot be read \(ENOENT\); TLS_KEY_FILE: .*\/key\.pem cannot be read \(ENOENT\)\n$/);
  });

  it('the placeholder token of .env.example, and an RCLONE_CONFIG that is not there', async () => {
    await bad(ENTRY.api, () => ({ API_TOKEN: 'change-me-run-openssl-rand-hex-32', HOST: '0.0.0.0' }), /API_TOKEN: is still a placeholder \(change-me\)/);
    await bad(ENTRY.worker, (root) => ({ DATA_DIR: root, OFFSITE_TARGETS: 'nas:oob', RCLONE_CONFIG: path.join(root, 'rclone.conf') }), /^oob-backup: configuration error: RCLONE_CONFIG: .*\/rclone\.conf cannot be read \(ENOENT\)\n$/);
  });
});

describe('a process that stops on an unexpected error', () => {
  // ioredis puts the failed command on its error (`command: {name: 'auth', args: [user, password]}`),
  // and Node printed that whole object for an error nobody caught: the Redis password on stderr.
  for (const entry of [ENTRY.api, ENTRY.worker, ENTRY.start]) {
    it(`${entry}: a Redis that refuses the password stops it, and the password is not printed`, async () => {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-wrongpass-'));
      try {
        const url = new URL(REDIS_URL);
        url.username = 'oob-no-such-user';
        url.password = 'hunter2-redis';
        const r = await run(entry, {
          REDIS_URL: url.toString(),
          QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
          DATA_DIR: root,
          TZ: 'Europe/Zurich',
          PORT: '0',
        });
        assert.notEqual(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stderr, /WRONGPASS/);
        assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
      } finally {
        await fs.rm(root, { recursive: true, force: true });
      }
    });
  }
});

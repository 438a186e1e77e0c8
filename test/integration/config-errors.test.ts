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

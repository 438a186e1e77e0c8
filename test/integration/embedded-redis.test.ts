/** `npm start` brings its own redis-server when none answers, and says how to get one when it can't. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { answersPing, ensureRedis } from '../../src/runtime/embedded-redis.js';
import { createLogger } from '../../src/runtime/logger.js';
import { REDIS_URL } from '../helpers/service.js';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('embedded redis', () => {
  let dir: string;
  const logger = createLogger('silent');
  before(async () => (dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-redis-'))));
  after(async () => fs.rm(dir, { recursive: true, force: true }));

  it('uses a Redis that already answers instead of starting one', async () => {
    // The tests' Redis (the machine's on 6379, or the one test/run.ts started).
    const port = Number(new URL(REDIS_URL).port);
    const r = await ensureRedis({ dataDir: dir, logger, port });
    assert.equal(r.embedded, false);
    assert.equal(r.url, `redis://127.0.0.1:${port}`);
  });

  it('starts redis-server with AOF and noeviction when nothing answers, and stops it', async () => {
    const port = await freePort();
    const r = await ensureRedis({ dataDir: dir, logger, port });
    assert.equal(r.embedded, true);
    const client = new Redis(r.url);
    try {
      assert.deepEqual(await client.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
      await client.set('kept', '1');
    } finally {
      client.disconnect();
    }
    await r.stop();
    assert.equal(await answersPing(port), false);
    const files = await fs.readdir(path.join(dir, 'redis'), { recursive: true });
    assert.ok(files.some((f) => String(f).includes('appendonly')), files.join());
  });

  it('says in one sentence what to do when there is no redis-server', async () => {
    const port = await freePort();
    await assert.rejects(ensureRedis({ dataDir: dir, logger, port, binary: 'no-such-redis-server' }), /apt-get install redis-server.*REDIS_URL/);
  });
});

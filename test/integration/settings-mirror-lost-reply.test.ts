/**
 * A setting saved while the reply of Redis got lost: Redis applied the SET, but the API's
 * connection dropped before the answer came (here a TCP proxy in front of the real Redis forwards
 * the SET and swallows its reply). The API then said "not saved" and put the old copy back in
 * BACKUP_DIR, which stayed behind Redis until a worker's maintenance; should Redis lose its data
 * meanwhile, the old setting came back from the copy. Now the copy follows what Redis holds: at
 * once when Redis can be asked, else at this store's next read.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createApiRedis } from '../../src/stores/redis.js';
import { scheduleStore, DEFAULT_SCHEDULE } from '../../src/stores/schedule-store.js';
import { SettingsMirror } from '../../src/stores/settings-mirror.js';
import { VolumeModes } from '../../src/stores/volume-modes.js';
import { deleteRedisPrefix, REDIS_URL, waitFor } from '../helpers/service.js';

/** Forwards to Redis; when armed, the next `command` naming `marker` reaches Redis but its reply is dropped with the connection. */
function lossyProxy(target: URL, marker: string) {
  let armed: RegExp | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    let swallow = false;
    client.on('data', (chunk) => {
      // ioredis sends command names in lower case (RESP: *3 $3 set …).
      if (armed && chunk.includes(marker) && armed.test(chunk.toString('latin1'))) {
        armed = undefined;
        swallow = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      // Redis answered, so it applied the write: the answer is lost with the connection.
      if (!swallow) return void client.write(chunk);
      client.destroy();
      upstream.destroy();
    });
    const both = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('error', () => undefined).on('close', both);
  });
  return {
    server,
    arm: (command: string) => (armed = new RegExp(`\\r\\n${command}\\r\\n`, 'i')),
    listen: () => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port))),
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((r) => server.close(r));
    },
  };
}

describe("a setting's copy when the reply of Redis to the save was lost", () => {
  const prefix = `oob-lostreply-${process.pid}`;
  let dir = '';
  let redis: Redis;
  let proxy: ReturnType<typeof lossyProxy>;
  const copy = () => fs.readFile(path.join(dir, 'schedule.json'), 'utf8').then((t) => JSON.parse(t).keep as number);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-lostreply-'));
    proxy = lossyProxy(new URL(REDIS_URL), `${prefix}:oob-settings:`);
    const port = await proxy.listen();
    redis = createApiRedis(`redis://127.0.0.1:${port}`);
    await new Promise((r) => redis.once('ready', r));
  });
  after(async () => {
    redis?.disconnect();
    await proxy?.close();
    await deleteRedisPrefix(prefix);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('the copy catches up with what Redis holds, at the next read at the latest', async () => {
    const store = scheduleStore(redis, prefix, new SettingsMirror(dir));
    await store.put({ ...DEFAULT_SCHEDULE, keep: 12 });
    assert.equal(await copy(), 12);

    proxy.arm('set');
    await assert.rejects(store.put({ ...DEFAULT_SCHEDULE, keep: 30 }), 'the save looked failed to the API');
    const direct = new (await import('ioredis')).Redis(REDIS_URL);
    try {
      assert.equal(JSON.parse((await direct.get(`${prefix}:oob-settings:schedule`))!).keep, 30, 'but Redis applied it');
    } finally {
      direct.disconnect();
    }
    // The next read (the screen polls the schedule) after the reconnect brings the copy up to date.
    await waitFor(async () => (await store.get().catch(() => undefined))?.keep === 30, 10_000, 'the read after the reconnect');
    assert.equal(await copy(), 30, 'the copy holds what Redis holds');
  });

  it("the same for a volume's archive mode", async () => {
    const modes = new VolumeModes(redis, prefix, new SettingsMirror(dir));
    const file = path.join(dir, 'volume-modes.json');
    const pacs = async () => JSON.parse(JSON.parse(await fs.readFile(file, 'utf8')).pacsdata).mode as string;
    await modes.put('pacsdata', { mode: 'full', fullEvery: 7, fullOn: null });
    assert.equal(await pacs(), 'full');
    proxy.arm('hset');
    await assert.rejects(modes.put('pacsdata', { mode: 'incremental', fullEvery: 7, fullOn: null }));
    await waitFor(async () => (await modes.get('pacsdata').catch(() => undefined))?.mode === 'incremental', 10_000, 'the read after the reconnect');
    assert.equal(await pacs(), 'incremental', 'the copy holds what Redis holds');
  });
});

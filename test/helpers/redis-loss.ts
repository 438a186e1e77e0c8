/**
 * The set-up of the tests in which Redis loses its data under a running service with an off-site
 * target (offsite-redis-loss*.test.ts): an API and a worker on a Redis of the test's own
 * (FLUSHALL never touches the shared one), a WebDAV target (`rclone serve webdav`) with
 * `keep:3`, copies that wait an hour before their retry, maintenance every second, and one volume.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { TEST_START } from './clock.js';
import { rcloneConfig, startWebdavServer, type TestRemote } from './offsite-servers.js';
import { http, makeFixture, startServices, type Fixture, type Service } from './service.js';
import { ThrowawayRedis } from './throwaway-redis.js';
import { makeVolume } from './volumes.js';

export const VOLUME = 'lucindadata';
export const fileOf = (stamp: string) => `${VOLUME}_${stamp}.tar.gz`;

export interface ListedCopy {
  target: string;
  file: string;
  sha256: string;
  copiedAt: string;
}

export interface RedisLossService {
  fx: Fixture;
  dav: TestRemote;
  /** The target's directory on disk. */
  davDir: string;
  api: Service;
  worker: Service;
  /** The stamps of the runs started by runNow, in order. */
  stamps: string[];
  /** A minute later, POST /api/backups; its stamp. */
  runNow(): Promise<string>;
  /** The copies the listing shows of `stamp`'s (local) archive. */
  copiesOf(stamp: string): Promise<ListedCopy[]>;
  /** The target refuses writes (its directory is a file) until the returned function is called. */
  refuseWrites(): Promise<() => Promise<void>>;
  /** FLUSHALL of the test's Redis, while both processes keep running. */
  loseRedisData(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisLossService(extraEnv: (fx: Fixture) => Record<string, string> = () => ({})): Promise<RedisLossService> {
  const fx = await makeFixture({}, { clock: TEST_START });
  const redis = await ThrowawayRedis.start(path.join(fx.root, 'redis'));
  const dav = await startWebdavServer(path.join(fx.root, 'dav'));
  const davDir = path.join(dav.dir, 'oob');
  const config = await rcloneConfig(path.join(fx.root, 'rclone.conf'), [dav]);
  await makeVolume(path.join(fx.volumesDir, VOLUME), VOLUME);
  const env = {
    ...fx.env,
    REDIS_URL: redis.url,
    OFFSITE_TARGETS: `${dav.name}:oob`,
    RCLONE_CONFIG: config,
    OFFSITE_RETENTION: 'keep:3',
    OFFSITE_COPY_ATTEMPTS: '3',
    // A copy that fails while the target refuses still waits for its next attempt when Redis is lost.
    OFFSITE_RETRY_DELAY: '3600',
    MAINTENANCE_INTERVAL: '1',
    ...extraEnv(fx),
  };
  const [api, worker] = await startServices(['api', env], ['worker', env]);
  const put = await http(api.url, 'PUT', '/api/schedule', { minute: '15', hour: '3', day: '*', month: '*', weekday: '*', keep: 3 });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const stamps: string[] = [];
  const listing = async () => (await http(api.url, 'GET', '/api/backups')).body.sets as { stamp: string; remote?: boolean; archives: { copies: ListedCopy[] }[] }[];
  return {
    fx,
    dav,
    davDir,
    api,
    worker,
    stamps,
    async runNow() {
      await fx.clock.advance(60_000);
      const r = await http(api.url, 'POST', '/api/backups', {});
      assert.equal(r.status, 202, JSON.stringify(r.body));
      stamps.push(r.body.stamp as string);
      return r.body.stamp as string;
    },
    copiesOf: async (stamp) => (await listing()).find((s) => s.stamp === stamp && !s.remote)?.archives[0]?.copies ?? [],
    async refuseWrites() {
      await fs.rename(davDir, `${davDir}.away`);
      await fs.writeFile(davDir, 'not a directory');
      return async () => {
        await fs.rm(davDir);
        await fs.rename(`${davDir}.away`, davDir);
      };
    },
    async loseRedisData() {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      try {
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      await Promise.all([api.stop(), worker.stop()]);
      await Promise.all([dav.stop(), redis.stop()]);
      await fx.cleanup();
    },
  };
}

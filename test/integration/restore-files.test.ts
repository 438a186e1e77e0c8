/**
 * Single-file restore over HTTP (issue 15): browsing an archive's directories through its entry
 * index (our archives and GNU tar's), and restoring chosen files and folders beside the live data
 * or in place, with nothing else in the volume touched. Every answer is checked against the
 * OpenAPI document.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { ContractChecker } from '../helpers/openapi-check.js';
import { Redis } from 'ioredis';
import { syncWrapperPath } from '../helpers/sync-wrapper.js';
import { http, makeFixture, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree, type TreeEntry } from '../helpers/tree.js';
import { exec } from '../helpers/volumes.js';

const TOKEN = 'files-test-token-0123456789ab';
const ENTRIES = '/api/backups/{stamp}/archives/{volume}/entries';
/** "Bericht_Müller.txt" in Latin-1: not UTF-8. */
const LATIN1 = Buffer.from('Bericht_M\xfcller.txt', 'latin1');
const key = (p: string | Buffer) => (typeof p === 'string' ? Buffer.from(p) : p).toString('base64url');
const LATIN1_PATH = `dokumente/${LATIN1.toString('latin1')}`;

/** The snapshot without the entries below `prefix` (binary-string paths as snapshotTree gives them). */
function without(tree: Map<string, TreeEntry>, prefix: string): Map<string, TreeEntry> {
  return new Map([...tree].filter(([p]) => p !== prefix && !p.startsWith(`${prefix}/`)));
}

/** Directories whose entries a restore renames change their mtime: compare them without it. */
function sameExcept(actual: Map<string, TreeEntry>, expected: Map<string, TreeEntry>, dirsTouched: string[]): void {
  const norm = (t: Map<string, TreeEntry>) => new Map([...t].map(([p, e]) => [p, dirsTouched.includes(p) ? { ...e, mtime: 0 } : e]));
  assert.deepEqual(norm(actual), norm(expected));
}

/** A document volume: folders, a non-UTF-8 name, a symlink, a hard link, and a folder of 450 files. */
async function makeDocuments(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'dokumente/2026'), { recursive: true });
  await fs.mkdir(path.join(dir, 'viele'));
  await fs.writeFile(path.join(dir, 'dokumente/brief.txt'), 'Sehr geehrte Frau Muster\n');
  await fs.writeFile(path.join(dir, 'dokumente/2026/befund.pdf'), Buffer.alloc(5000, 7));
  await fs.writeFile(Buffer.concat([Buffer.from(`${dir}/dokumente/`), LATIN1]), 'Latin-1 name\n');
  await fs.symlink('brief.txt', path.join(dir, 'dokumente/aktuell'));
  await fs.writeFile(path.join(dir, 'original.txt'), 'linked twice\n');
  await fs.link(path.join(dir, 'original.txt'), path.join(dir, 'dokumente/verlinkt.txt'));
  await fs.writeFile(path.join(dir, 'andere.txt'), 'not restored\n');
  for (let i = 0; i < 450; i++) await fs.writeFile(path.join(dir, `viele/f${String(i).padStart(3, '0')}.txt`), `${i}\n`);
}

describe('single-file restore', () => {
  let fx: Fixture;
  let svc: Service;
  let stamp: string;
  let contract: ContractChecker;
  const gnuStamp = '2030-01-02-0304';
  const vol = () => path.join(fx.volumesDir, 'lucindadata');
  const syncFails = () => path.join(fx.root, 'sync-fails');
  const call = (method: string, url: string, body?: unknown) => http(svc.url, method, url, body, TOKEN);
  const list = async (stampOf: string, query = '') => {
    const r = await call('GET', `/api/backups/${stampOf}/archives/lucindadata/entries${query}`);
    contract.check('GET', ENTRIES, r.status, r.body);
    return r;
  };

  before(async () => {
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', NODE_ENV: 'test' }, { clock: TEST_START });
    // The service's `sync` fails while the file syncFails() exists (the flush before the swap).
    fx.env.PATH = syncWrapperPath(fx.root, path.join(fx.root, 'sync.log'), { failWhile: syncFails() });
    await makeDocuments(vol());
    // A set made by GNU tar alone, as an admin or an earlier OOB version made them: no sidecars.
    await exec('tar', ['-C', vol(), '-czf', path.join(fx.backupDir, `lucindadata_${gnuStamp}.tar.gz`), '.']);
    svc = await startService('start', fx.env);
    const doc = await call('GET', '/api/openapi.json');
    assert.equal(doc.status, 200);
    contract = new ContractChecker(doc.body);
    const run = await call('POST', '/api/backups', {});
    assert.equal(run.status, 202);
    stamp = run.body.stamp;
    await waitForJobsSettled(svc.url, TOKEN);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  describe('listing', () => {
    it('lists one directory level, sorted by name, from the index written with the archive', async () => {
      assert.ok((await fs.stat(path.join(fx.backupDir, `lucindadata_${stamp}.tar.gz.entries.gz`))).isFile());
      const root = await list(stamp);
      assert.equal(root.status, 200, JSON.stringify(root.body));
      assert.equal(root.body.indexBuilt, false);
      assert.deepEqual(root.body.entries.map((e: any) => [e.name, e.type]), [
        ['andere.txt', 'file'],
        ['dokumente', 'directory'],
        ['original.txt', 'hardlink'], // its other name came first in the walk
        ['viele', 'directory'],
      ]);
      assert.equal(root.body.entries[2].linkTarget, 'dokumente/verlinkt.txt');
      assert.equal(root.body.nextCursor, null);
      assert.equal(root.body.parentKey, null);
      const docs = await list(stamp, `?dir=dokumente`);
      assert.deepEqual(docs.body.entries.map((e: any) => [e.name, e.type, e.size]), [
        ['2026', 'directory', 0],
        ['Bericht_M\ufffdller.txt', 'file', 13],
        ['aktuell', 'symlink', 0],
        ['brief.txt', 'file', 25],
        ['verlinkt.txt', 'file', 13],
      ]);
      const latin1 = docs.body.entries[1];
      assert.equal(latin1.key, key(Buffer.concat([Buffer.from('dokumente/'), LATIN1])), 'the key holds the exact bytes');
      assert.equal(docs.body.entries[2].linkTarget, 'brief.txt');
      assert.equal(docs.body.parentKey, '');
      const byKey = await list(stamp, `?dirKey=${docs.body.entries[0].key}`);
      assert.deepEqual(byKey.body.entries.map((e: any) => e.path), ['dokumente/2026/befund.pdf']);
      assert.equal(byKey.body.dir, 'dokumente/2026');
    });

    it('pages a large directory with a cursor, every name once', async () => {
      const seen: string[] = [];
      let cursor: string | null = '';
      let pages = 0;
      while (cursor !== null) {
        const r = await list(stamp, `?dir=viele&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(r.status, 200);
        seen.push(...r.body.entries.map((e: any) => e.name));
        cursor = r.body.nextCursor;
        pages++;
      }
      assert.equal(pages, 3);
      assert.equal(seen.length, 450);
      assert.deepEqual(seen, [...seen].sort());
      assert.equal(new Set(seen).size, 450);
    });

    it('answers 400 for a cursor it did not issue for this listing', async () => {
      const first = await list(stamp, '?dir=viele&limit=200');
      const cursor: string = first.body.nextCursor;
      assert.equal((await list(stamp, `?dir=viele&cursor=${cursor}`)).status, 200);
      const changed = `${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`;
      const bogus = [
        ['zzzz', 'well-formed base64url'],
        [key('viele/f199.txt'), 'a bare key'],
        [key('f199.txt'), 'a bare name'],
        [changed, 'changed'],
        [cursor.slice(0, 11), 'cut short'],
      ];
      for (const [c, what] of bogus) {
        const r = await list(stamp, `?dir=viele&cursor=${c}`);
        assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.field, 'cursor', what);
        assert.match(r.body.error.message, /not a nextCursor of this listing/, what);
      }
      for (const q of [`?dir=dokumente&cursor=${cursor}`, `?cursor=${cursor}`]) assert.equal((await list(stamp, q)).status, 400, `another folder: ${q}`);
    });

    it('lists a GNU-tar-made archive: builds its index once, then reads only the index', async () => {
      const first = await list(gnuStamp, '?dir=dokumente');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.indexBuilt, true);
      assert.equal(first.body.entries.length, 5);
      const second = await list(gnuStamp, '?dir=dokumente');
      assert.equal(second.body.indexBuilt, false);
      assert.deepEqual(second.body.entries, first.body.entries);
    });

    it('answers 401 without the token, and 422 for an archive that cannot be read safely', async () => {
      assert.equal((await http(svc.url, 'GET', `/api/backups/${stamp}/archives/lucindadata/entries`)).status, 401);
      const evil = path.join(fx.backupDir, 'lucindadata_2030-01-03-0304.tar.gz');
      await exec('python3', ['-c', `
import io, tarfile
with tarfile.open(${JSON.stringify(evil)}, 'w:gz') as t:
    info = tarfile.TarInfo('../../etc/cron.d/x'); data = b'x'; info.size = len(data)
    t.addfile(info, io.BytesIO(data))
`]);
      try {
        const r = await list('2030-01-03-0304');
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'archive_unreadable');
        assert.match(r.body.error.message, /hostile/);
      } finally {
        await fs.rm(evil);
      }
    });

    it('answers 404 for an unknown set, volume or directory, 400 for a bad query', async () => {
      assert.equal((await list('2001-01-01-0101')).status, 404);
      const noVolume = await call('GET', `/api/backups/${stamp}/archives/pacsdata/entries`);
      assert.equal(noVolume.status, 404);
      contract.check('GET', ENTRIES, 404, noVolume.body);
      assert.equal((await list(stamp, '?dir=nirgends')).status, 404);
      assert.equal((await list(stamp, '?dir=andere.txt')).status, 404, 'a file is no directory');
      for (const [q, field] of [['?dir=../etc', 'dir'], ['?dir=/etc', 'dir'], ['?limit=0', 'limit'], ['?limit=1001', 'limit'], ['?cursor=%2F%2F', 'cursor'], ['?cursor=zzzz', 'cursor'], ['?dir=a&dirKey=YQ', 'dirKey']]) {
        const r = await list(stamp, q);
        assert.equal(r.status, 400, q);
        assert.equal(r.body.error.field, field, q);
      }
    });
    });

  describe('restore', () => {
    let original: Map<string, TreeEntry>;
    const restore = async (body: Record<string, unknown>) => {
      const req = await call('POST', '/api/restores', { stamp, volumes: ['lucindadata'], ...body });
      contract.check('POST', '/api/restores', req.status, req.body);
      return req;
    };
    const confirmAndFinish = async (req: { body: any }) => {
      const conf = await call('POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
      assert.equal(conf.status, 202, JSON.stringify(conf.body));
      const done = await waitFor(async () => {
        const r = await call('GET', `/api/restores/${req.body.id}`);
        return r.body.state === 'completed' || r.body.state === 'failed' ? r : undefined;
      }, 60_000, 'the restore to finish');
      contract.check('GET', '/api/restores/{id}', done.status, done.body);
      return done.body;
    };
    const confirmAndWait = async (req: { body: any }) => {
      const done = await confirmAndFinish(req);
      assert.equal(done.state, 'completed', done.failedReason);
      return done;
    };

    before(async () => {
      original = await snapshotTree(vol());
    });

    it('refuses hostile and unknown paths with 400, naming paths', async () => {
      for (const bad of [key('../etc/passwd'), key('/etc/passwd'), key('dokumente/../../x'), key('nichts.txt'), key('dokumente/brief.txt\0x'), 'a+b', key('.')]) {
        const r = await restore({ paths: [bad] });
        assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.field, 'paths', bad);
      }
      const two = await call('POST', '/api/restores', { stamp, volumes: ['lucindadata', 'pacsdata'], paths: [key('andere.txt')] });
      assert.equal(two.status, 400);
      assert.equal(two.body.error.field, 'volumes');
    });

    it('the job itself refuses a path that leaves the volume, even when the request record was altered in Redis', async () => {
      const req = await restore({ paths: [key('andere.txt')], into: 'in-place', skipSafetyBackup: true });
      assert.equal(req.status, 201);
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      try {
        const recordKey = `${fx.prefix}:oob-restore:${req.body.id}`;
        const record = JSON.parse((await redis.get(recordKey))!);
        record.paths = [Buffer.from('../outside.txt').toString('hex')];
        await redis.set(recordKey, JSON.stringify(record), 'KEEPTTL');
      } finally {
        redis.disconnect();
      }
      const before = await snapshotTree(fx.root);
      const conf = await call('POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
      assert.equal(conf.status, 202);
      const done = await waitFor(async () => {
        const r = await call('GET', `/api/restores/${req.body.id}`);
        return r.body.state === 'failed' || r.body.state === 'completed' ? r.body : undefined;
      }, 60_000, 'the restore to end');
      assert.equal(done.state, 'failed');
      assert.match(done.failedReason, /not a normalized path inside the volume; nothing was done/);
      const after = await snapshotTree(fx.root);
      const unchanged = (t: Map<string, TreeEntry>) => new Map([...t].filter(([p]) => !p.startsWith('backup') && !p.startsWith('data') && p !== 'clock'));
      assert.deepEqual(unchanged(after), unchanged(before));
    });

    it('restores chosen files beside the live data, byte-exact names, nothing else touched', async () => {
      await fs.writeFile(path.join(vol(), 'dokumente/brief.txt'), 'overwritten by mistake\n');
      const before = await snapshotTree(vol());
      const req = await restore({ paths: [key('dokumente/brief.txt'), key(Buffer.from(LATIN1_PATH, 'latin1')), key('original.txt')] });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      assert.equal(req.body.into, 'beside');
      assert.equal(req.body.target, `Wiederhergestellt-${stamp}`);
      assert.equal(req.body.skipSafetyBackup, true, 'beside overwrites nothing: no safety backup');
      assert.match(req.body.warning.de, /Wiederhergestellt-/);
      assert.match(req.body.warning.de, /brief\.txt/);
      const done = await confirmAndWait(req);
      assert.equal(done.summary.target, `Wiederhergestellt-${stamp}`);
      // What the folder holds: the three chosen files (a hard link's target, original.txt, is one of them, extracted once).
      assert.equal(done.summary.files, 3);
      assert.match(done.summary.message, /Wiederhergestellt/);

      const after = await snapshotTree(vol());
      const folder = `Wiederhergestellt-${stamp}`;
      sameExcept(without(after, folder), before, ['.']);
      const restored = [...after].filter(([p]) => p.startsWith(`${folder}/`)).map(([p, e]) => [p.slice(folder.length + 1), e] as const);
      assert.deepEqual(restored.map(([p]) => p).sort(), ['dokumente', 'dokumente/brief.txt', LATIN1_PATH, 'original.txt'].sort());
      for (const [p, e] of restored) {
        const o = original.get(p)!;
        assert.deepEqual({ ...e, mtime: e.type === 'dir' ? 0 : e.mtime }, { ...o, mtime: o.type === 'dir' ? 0 : o.mtime }, p);
      }
    });

    it('restores files and a folder in place: only the chosen paths change, with a safety backup', async () => {
      await fs.rm(path.join(vol(), `Wiederhergestellt-${stamp}`), { recursive: true });
      await fs.rm(Buffer.concat([Buffer.from(`${vol()}/`), Buffer.from(LATIN1_PATH, 'latin1')]));
      await fs.rm(path.join(vol(), 'dokumente/2026'), { recursive: true });
      await fs.writeFile(path.join(vol(), 'dokumente/neu.txt'), 'written after the backup, not chosen\n');
      await fs.writeFile(path.join(vol(), 'andere.txt'), 'changed after the backup, not chosen\n');
      const before = await snapshotTree(vol());
      await fx.clock.advance(60_000); // a minute without a set, for the safety backup
      const chosen = ['dokumente/brief.txt', LATIN1_PATH, 'dokumente/2026'];
      const req = await restore({ paths: chosen.map((p) => key(Buffer.from(p, 'latin1'))), into: 'in-place' });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      assert.equal(req.body.skipSafetyBackup, false);
      assert.match(req.body.warning.en, /replaced/);
      const done = await confirmAndWait(req);
      assert.equal(done.summary.into, 'in-place');
      assert.equal(done.summary.safetyBackupStamp, fx.clock.stamp());
      assert.ok((await fs.stat(path.join(fx.backupDir, `lucindadata_${fx.clock.stamp()}.tar.gz`))).isFile(), 'the safety backup is a normal archive');

      const after = await snapshotTree(vol());
      const expected = new Map(before);
      for (const [p, e] of original) if (chosen.some((c) => p === c || p.startsWith(`${c}/`))) expected.set(p, e);
      sameExcept(after, expected, ['.', 'dokumente']);
      assert.equal(await fs.readFile(path.join(vol(), 'dokumente/neu.txt'), 'utf8'), 'written after the backup, not chosen\n');
      assert.deepEqual((await fs.readdir(vol())).filter((n) => n.startsWith('.oob-restore-')), [], 'no work directory left');
    });

    it('a flush of the staged paths that fails changes nothing, in place and beside', async () => {
      await fs.writeFile(path.join(vol(), 'dokumente/brief.txt'), 'changed after the backup\n');
      const before = await snapshotTree(vol());
      await fs.writeFile(syncFails(), '');
      try {
        for (const into of ['in-place', 'beside'] as const) {
          const req = await restore({ paths: [key('dokumente/brief.txt')], into, skipSafetyBackup: true });
          assert.equal(req.status, 201, JSON.stringify(req.body));
          const done = await confirmAndFinish(req);
          assert.equal(done.state, 'failed', into);
          assert.match(done.failedReason, /^flushing the restored paths to disk failed, nothing was changed: flushing the file system of .* failed \(sync -f\)/, into);
          assertSameTree(await snapshotTree(vol()), before);
        }
      } finally {
        await fs.rm(syncFails(), { force: true });
      }
      assert.equal(await fs.readFile(path.join(vol(), 'dokumente/brief.txt'), 'utf8'), 'changed after the backup\n');
    });

    it('an in-place restore refused for a symlink above the path leaves the volume exactly as it was, work directory and root times included', async () => {
      const outside = path.join(fx.root, 'outside-dokumente');
      await fs.rm(outside, { recursive: true, force: true });
      await fs.mkdir(outside);
      await fs.rename(path.join(vol(), 'dokumente'), path.join(fx.root, 'dokumente-aside'));
      await fs.symlink(outside, path.join(vol(), 'dokumente'));
      try {
        const before = await snapshotTree(vol());
        const req = await restore({ paths: [key('dokumente/brief.txt')], into: 'in-place', skipSafetyBackup: true });
        assert.equal(req.status, 201, JSON.stringify(req.body));
        const done = await confirmAndFinish(req);
        assert.equal(done.state, 'failed');
        assert.match(done.failedReason, /"dokumente" in the volume is a symlink, not a directory: .* cannot be restored in place .*; nothing was changed$/);
        // The root's mtime too: an audit found the work directory left for the next maintenance run.
        assertSameTree(await snapshotTree(vol()), before);
        assert.deepEqual(await fs.readdir(outside), []);
      } finally {
        await fs.rm(path.join(vol(), 'dokumente'));
        await fs.rename(path.join(fx.root, 'dokumente-aside'), path.join(vol(), 'dokumente'));
      }
    });

    it('restores from a GNU-tar-made archive beside', async () => {
      const before = await snapshotTree(vol());
      const req = await call('POST', '/api/restores', { stamp: gnuStamp, volumes: ['lucindadata'], paths: [key('viele/f042.txt')] });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      await confirmAndWait(req);
      const after = await snapshotTree(vol());
      const folder = `Wiederhergestellt-${gnuStamp}`;
      sameExcept(without(after, folder), before, ['.']);
      assert.equal(await fs.readFile(path.join(vol(), folder, 'viele/f042.txt'), 'utf8'), '42\n');
      assert.deepEqual(await fs.readdir(path.join(vol(), folder)), ['viele']);
      assert.deepEqual(await fs.readdir(path.join(vol(), folder, 'viele')), ['f042.txt']);
    });

    it('a name stored twice (tar -r) restores as GNU tar does, the later member, and the summary counts what was restored', async () => {
      // An audit read "files: 2, bytes: 37" for the one file of 23 bytes it got.
      const twice = '2030-01-02-0305';
      const src = path.join(fx.root, 'twice');
      await fs.mkdir(src, { recursive: true });
      const tar = path.join(fx.root, 'twice.tar');
      await fs.writeFile(path.join(src, 'dup.txt'), 'first version\n');
      await exec('tar', ['-C', src, '-cf', tar, './dup.txt']);
      await fs.writeFile(path.join(src, 'dup.txt'), 'second, longer version\n');
      await exec('tar', ['-C', src, '-rf', tar, './dup.txt']);
      await fs.writeFile(path.join(fx.backupDir, `lucindadata_${twice}.tar.gz`), gzipSync(await fs.readFile(tar)));
      const req = await call('POST', '/api/restores', { stamp: twice, volumes: ['lucindadata'], paths: [key('dup.txt')] });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      const done = await confirmAndWait(req);
      assert.equal(await fs.readFile(path.join(vol(), `Wiederhergestellt-${twice}`, 'dup.txt'), 'utf8'), 'second, longer version\n');
      assert.equal(done.summary.files, 1);
      assert.equal(done.summary.bytes, 'second, longer version\n'.length);
    });
  });
});

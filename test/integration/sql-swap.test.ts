/**
 * The bytes a SQL restore loads are the bytes it checked. The job checks the file (complete, this
 * database, its .sha256 sidecar) and only then, after the safety dump, drops the database and loads
 * it: a file replaced, cut or grown in between was loaded unchecked into the patient database. Here
 * a PATH wrapper for `mariadb` changes the file at the one moment that is after every check and
 * before the load (the client run that drops and recreates the database: deterministic, no
 * sleeps); the restore must load what it checked. A dump replaced by a symlink or a FIFO before the
 * job fails it with the database untouched.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TEST_START } from '../helpers/clock.js';
import { DB_ENV, http, makeFixture, MARIADB_ARGS, restoreAndWait, runNowAndSettle, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const TOKEN = 'sql-swap-token-0123456789';
const DB = `oob_sqlswap_${randomBytes(4).toString('hex')}`;

const sql = async (query: string) => (await exec('mariadb', [...MARIADB_ARGS, '--default-character-set=utf8mb4', '-N', '-B', DB, '-e', query])).stdout.trim();
const checksum = () => sql('CHECKSUM TABLE patient');

describe('a SQL file changed between the check and the load', () => {
  let fx: Fixture;
  let svc: Service;
  let stamp: string;
  let dumpFile: string;
  let atDump: string;
  let original: Buffer;
  const seed = () => sql(`DROP TABLE IF EXISTS patient; CREATE TABLE patient (id INT PRIMARY KEY, name VARCHAR(100)) CHARSET utf8mb4;
    INSERT INTO patient VALUES (1, 'Anna'), (2, 'Beat'), (3, 'Chantal')`);
  /** Each test starts from the set's dump as it was written and the rows it holds (a failed test may have changed both). */
  async function putBack(): Promise<void> {
    await seed();
    await fs.rm(dumpFile, { force: true });
    await fs.writeFile(dumpFile, original);
  }

  /** Arm the wrapper: when the restore's client drops the database, `mode` `with` onto `target` (once). */
  async function armSwap(mode: 'rename' | 'overwrite' | 'append', target: string, content: Buffer): Promise<void> {
    await fs.writeFile(path.join(fx.root, 'swap-with'), content);
    await fs.writeFile(path.join(fx.root, 'swap-target'), target);
    await fs.writeFile(path.join(fx.root, 'swap-mode'), mode);
  }
  const swapped = async () => (await fs.readFile(path.join(fx.root, 'swapped'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  /** A restore requested, `between` run, then confirmed; its end. */
  async function requestThen(body: Record<string, unknown>, between: () => Promise<void>): Promise<any> {
    const req = await http(svc.url, 'POST', '/api/restores', body, TOKEN);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    await between();
    const c = await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token }, TOKEN);
    assert.equal(c.status, 202, JSON.stringify(c.body));
    return waitFor(async () => {
      const x = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`, undefined, TOKEN)).body;
      return x.state === 'completed' || x.state === 'failed' ? x : undefined;
    }, 60_000, 'the restore to end');
  }
  const dumps = async () => (await fs.readdir(fx.backupDir)).filter((f) => /\.sql(\.gz)?$/.test(f)).sort();

  before(async () => {
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}`]);
    await seed();
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ...DB_ENV, DB_NAME: DB }, { clock: TEST_START });
    const bin = path.join(fx.root, 'swap-bin');
    await fs.mkdir(bin);
    const real = (await exec('sh', ['-c', 'command -v mariadb'])).stdout.trim();
    const r = fx.root;
    await fs.writeFile(
      path.join(bin, 'mariadb'),
      `#!/bin/sh
case "$*" in *"DROP DATABASE"*)
  if [ -f '${r}/swap-mode' ]; then
    mode=$(cat '${r}/swap-mode'); target=$(cat '${r}/swap-target'); rm -f '${r}/swap-mode'
    case "$mode" in
      rename) mv '${r}/swap-with' "$target" ;;
      overwrite) cat '${r}/swap-with' > "$target" ;;
      append) cat '${r}/swap-with' >> "$target" ;;
    esac
    echo "$mode $target" >> '${r}/swapped'
  fi ;;
esac
exec '${real}' "$@"
`,
      { mode: 0o755 },
    );
    fx.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    await fs.mkdir(path.join(fx.volumesDir, 'docs'));
    await fs.writeFile(path.join(fx.volumesDir, 'docs', 'a.txt'), 'a\n');
    svc = await startService('start', fx.env);
    stamp = await runNowAndSettle(svc.url, TOKEN);
    dumpFile = path.join(fx.backupDir, `elexisdb-sql_${stamp}.sql.gz`);
    atDump = await checksum();
    original = await fs.readFile(dumpFile);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}`]);
  });

  it("a set's dump replaced by another whole dump (rename) after the check: the checked one is loaded", async () => {
    await putBack();
    const text = gunzipSync(original).toString('latin1');
    const evil = gzipSync(Buffer.from(text.replace('\n-- Dump completed', "\nINSERT INTO patient VALUES (666, 'not in the backup');\n-- Dump completed"), 'latin1'));
    await sql("UPDATE patient SET name = 'changed' WHERE id = 1");
    await armSwap('rename', dumpFile, evil);
    await fx.clock.advance(60_000);
    const r = await restoreAndWait(svc.url, { stamp, volumes: ['elexisdb-sql'], skipSafetyBackup: true }, { token: TOKEN });
    assert.deepEqual(await swapped(), [`rename ${dumpFile}`], 'the wrapper replaced the dump between the check and the load');
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(await sql('SELECT COUNT(*) FROM patient WHERE id = 666'), '0', 'the replaced file was loaded');
    assert.equal(await checksum(), atDump);
  });

  it("a set's dump cut in place (same inode) after the check: the checked one is loaded, not half of it", async () => {
    await putBack();
    await sql("UPDATE patient SET name = 'changed again' WHERE id = 2");
    await armSwap('overwrite', dumpFile, original.subarray(0, Math.floor(original.length / 2)));
    await fx.clock.advance(60_000);
    const r = await restoreAndWait(svc.url, { stamp, volumes: ['elexisdb-sql'], skipSafetyBackup: true }, { token: TOKEN });
    assert.equal((await swapped()).at(-1), `overwrite ${dumpFile}`);
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(await checksum(), atDump);
  });

  it('an upload that grows after the check (a statement appended): the checked bytes are loaded, the upload removed', async () => {
    await putBack();
    const plain = gunzipSync(original);
    await sql("UPDATE patient SET name = 'changed' WHERE id = 3");
    await fx.clock.advance(60_000);
    const up = await fetch(`${svc.url}/api/restores/sql?skipSafetyBackup=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(plain),
    });
    const req = (await up.json()) as any;
    assert.equal(up.status, 201, JSON.stringify(req));
    const uploads = path.join(fx.backupDir, 'uploads');
    const [name] = await fs.readdir(uploads);
    await armSwap('append', path.join(uploads, name!), Buffer.from('DROP TABLE patient;\n'));
    const c = await http(svc.url, 'POST', `/api/restores/${req.id}/confirm`, { token: req.token }, TOKEN);
    assert.equal(c.status, 202, JSON.stringify(c.body));
    const r = await waitFor(async () => {
      const x = (await http(svc.url, 'GET', `/api/restores/${req.id}`, undefined, TOKEN)).body;
      return x.state === 'completed' || x.state === 'failed' ? x : undefined;
    }, 60_000, 'the SQL restore to end');
    assert.equal((await swapped()).at(-1), `append ${path.join(uploads, name!)}`);
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(await checksum(), atDump, 'the appended DROP TABLE ran');
    assert.deepEqual(await fs.readdir(uploads), [], 'the upload is removed after the load');
  });

  for (const kind of ['symlink', 'FIFO'] as const) {
    it(`a set's dump replaced by a ${kind} fails the job before anything changes`, async () => {
      await putBack();
      await sql("UPDATE patient SET name = 'live' WHERE id = 1");
      const live = await checksum();
      const dumpsBefore = await dumps();
      await fx.clock.advance(60_000);
      // Requested while the dump is whole (the listing has it), replaced before the job runs.
      const r = await requestThen({ stamp, volumes: ['elexisdb-sql'] }, async () => {
        await fs.rm(dumpFile);
        if (kind === 'symlink') {
          // The same bytes elsewhere: the sidecar matches, but what the name points to is not ours to load.
          const elsewhere = path.join(fx.root, 'elsewhere.sql.gz');
          await fs.writeFile(elsewhere, original);
          await fs.symlink(elsewhere, dumpFile);
        } else {
          await exec('mkfifo', [dumpFile]);
        }
      });
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, kind === 'symlink' ? /nothing was changed: elexisdb-sql_\S+ is a symbolic link, not a regular file/ : /nothing was changed: elexisdb-sql_\S+ is not a regular file \(a FIFO\)/);
      assert.equal(await checksum(), live, 'the database was touched');
      assert.deepEqual(await dumps(), dumpsBefore, 'no safety dump was made');
    });
  }

  it('leaves no private copy behind in BACKUP_DIR', async () => {
    const left = (await fs.readdir(fx.backupDir)).filter((n) => n.startsWith('.'));
    assert.deepEqual(left, []);
  });
});

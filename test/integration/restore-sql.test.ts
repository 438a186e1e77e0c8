/**
 * Restoring the Elexis database from an uploaded SQL file (plain and gzip) against the real MariaDB
 * (test/helpers/service.ts, MARIADB): upload, confirm, the job; a broken file fails with the client's message and
 * the safety dump brings the previous state back; a dump cut short (or a gzip that does not decompress to its end)
 * is refused at the upload and again by the job, with the database untouched.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TEST_START } from '../helpers/clock.js';
import { Redis } from 'ioredis';
import { DB_ENV, http, makeFixture, MARIADB_ARGS, REDIS_URL, startService, waitFor, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const TOKEN = 'sql-restore-token-0123456789';
const DB = `oob_sqlrestore_${randomBytes(4).toString('hex')}`;

const sql = async (query: string, db = DB) => (await exec('mariadb', [...MARIADB_ARGS, '--default-character-set=utf8mb4', '-N', '-B', db, '-e', query])).stdout.trim();

async function upload(svc: Service, body: Buffer, query = ''): Promise<any> {
  const res = await fetch(`${svc.url}/api/restores/sql${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: await res.json() };
}

async function confirmAndWait(svc: Service, req: any): Promise<any> {
  const c = await http(svc.url, 'POST', `/api/restores/${req.id}/confirm`, { token: req.token }, TOKEN);
  assert.equal(c.status, 202, JSON.stringify(c.body));
  return waitFor(async () => {
    const r = (await http(svc.url, 'GET', `/api/restores/${req.id}`, undefined, TOKEN)).body;
    return r.state === 'completed' || r.state === 'failed' ? r : undefined;
  }, 60_000, 'SQL restore to finish');
}

describe('restore the database from a SQL file', () => {
  let fx: Fixture;
  let svc: Service;
  let dump: Buffer;
  let checksumBefore: string;

  before(async () => {
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}`]);
    await sql(`CREATE TABLE patient (id INT PRIMARY KEY, name VARCHAR(100), note LONGBLOB) CHARSET utf8mb4;
      INSERT INTO patient VALUES (1, 'Anna Zürcher 🙂', UNHEX('00FF10')), (2, 'Beat Müller', NULL), (3, 'Chantal', REPEAT('x', 5000));`);
    checksumBefore = await sql('CHECKSUM TABLE patient');
    dump = (await exec('mariadb-dump', [...MARIADB_ARGS, '--single-transaction', '--hex-blob', DB], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' } as any)).stdout as unknown as Buffer;
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ...DB_ENV, DB_NAME: DB }, { clock: TEST_START });
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}`]);
  });

  for (const form of ['plain', 'gzip'] as const) {
    it(`loads a ${form} mariadb-dump upload: rows equal the dump again`, async () => {
      await sql(`UPDATE patient SET name = 'changed' WHERE id = 1; DELETE FROM patient WHERE id = 2; INSERT INTO patient VALUES (9, 'new', NULL);`);
      assert.notEqual(await sql('CHECKSUM TABLE patient'), checksumBefore);
      // The safety dump is tested with the gzip form and below (each in a minute of its own: a stamp is a minute).
      const up = await upload(svc, form === 'gzip' ? gzipSync(dump) : dump, form === 'plain' ? '?skipSafetyBackup=true' : '');
      assert.equal(up.status, 201, JSON.stringify(up.body));
      assert.equal(up.body.upload.gzip, form === 'gzip');
      assert.match(up.body.warning.de, new RegExp(DB));
      const uploads = await fs.readdir(path.join(fx.backupDir, 'uploads'));
      assert.equal(uploads.length, 1, 'streamed to BACKUP_DIR/uploads');
      const result = await confirmAndWait(svc, up.body);
      assert.equal(result.state, 'completed', result.failedReason);
      // The same last phase as a volume restore's (the main screen's "Aufräumen"), not the load's.
      assert.equal(result.progress?.phase, 'done', JSON.stringify(result.progress));
      assert.equal(await sql('CHECKSUM TABLE patient'), checksumBefore);
      if (form === 'gzip') {
        assert.match(result.summary.safetyDump, /^elexisdb-sql_\d{4}-\d{2}-\d{2}-\d{4}\.sql\.gz$/);
        const stamp = /_(\d{4}-\d{2}-\d{2}-\d{4})\./.exec(result.summary.safetyDump)![1];
        const listed = (await http(svc.url, 'GET', `/api/backups/${stamp}`, undefined, TOKEN)).body.archives as { kind: string; safetyFor: string | null }[];
        assert.equal(listed.find((x) => x.kind === 'sql')?.safetyFor, up.body.id, 'the safety dump is marked as one');
      }
      else assert.equal(result.summary.safetyDump, null);
      assert.deepEqual(await fs.readdir(path.join(fx.backupDir, 'uploads')), [], 'upload removed after success');
    });
  }

  it('a dump of another database made with --databases is refused at the upload and in the job, before anything changes; such a dump of this database loads', async () => {
    await fx.clock.advance(60_000);
    const other = `${DB}_other`;
    const dumpOf = async (db: string) => (await exec('mariadb-dump', [...MARIADB_ARGS, '--hex-blob', '--databases', db], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' } as any)).stdout as unknown as Buffer;
    const uploaded = () => fs.readdir(path.join(fx.backupDir, 'uploads')).catch(() => [] as string[]);
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${other}`]);
    try {
      await sql('CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7)', other);
      const before = await sql('CHECKSUM TABLE patient');
      const foreign = gzipSync(await dumpOf(other));
      const kept = await uploaded();
      const atUpload = await upload(svc, foreign);
      assert.equal(atUpload.status, 422, JSON.stringify(atUpload.body));
      assert.equal(atUpload.body.error.code, 'sql_other_database');
      assert.match(atUpload.body.error.message, new RegExp(`^the SQL file works on database "${other}", not on the one it is restored into \\("CREATE DATABASE .*; nothing was kept$`));
      assert.deepEqual(await uploaded(), kept, 'nothing kept');
      // A file swapped in after the upload (by hand, or kept from before this check): the job refuses it.
      const up = await upload(svc, await dumpOf(DB));
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const [name] = (await uploaded()).filter((f) => !kept.includes(f));
      await fs.writeFile(path.join(fx.backupDir, 'uploads', name!), foreign);
      const refused = await confirmAndWait(svc, up.body);
      assert.equal(refused.state, 'failed');
      assert.match(refused.failedReason, new RegExp(`^the SQL file works on database "${other}", not on the one it is restored into \\("CREATE DATABASE .*a dump made with --databases or --all-databases, .*; nothing was changed$`));
      assert.equal(await sql('CHECKSUM TABLE patient'), before, 'the database is unchanged');
      // Made with --databases, but of this very database: its CREATE DATABASE and USE name it.
      const own = await confirmAndWait(svc, (await upload(svc, await dumpOf(DB), '?skipSafetyBackup=true')).body);
      assert.equal(own.state, 'completed', own.failedReason);
      assert.equal(await sql('CHECKSUM TABLE patient'), before);
    } finally {
      await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${other}`]);
    }
  });

  it('a statement longer than the server takes (max_allowed_packet) is refused before the safety dump, nothing changed', async () => {
    await fx.clock.advance(60_000);
    const limit = Number(await sql('SELECT @@GLOBAL.max_allowed_packet'));
    const before = await sql('CHECKSUM TABLE patient');
    const dumpsBefore = (await fs.readdir(fx.backupDir)).filter((f) => f.startsWith('elexisdb-sql_'));
    // A row with a document as mariadb-dump --hex-blob writes it: one INSERT longer than the limit.
    const row = `INSERT INTO \`patient\` VALUES (9,'Dokument',0x${'ab'.repeat((limit >> 1) + 4096)});\n`;
    const up = await upload(svc, gzipSync(`-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n${row}-- Dump completed on 2026-12-03 12:00:00\n`));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const r = await confirmAndWait(svc, up.body);
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason, /^the SQL file holds a statement of [\d.]+ MiB .* takes at most [\d.]+ MiB per statement \(max_allowed_packet\).*SET GLOBAL max_allowed_packet = \d+\*1024\*1024;.*nothing was changed$/);
    assert.equal(await sql('CHECKSUM TABLE patient'), before, 'the database is unchanged');
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((f) => f.startsWith('elexisdb-sql_')), dumpsBefore, 'no safety dump for a refused file');
  });

  it('a SQL file with a syntax error fails with the client message; the safety dump restores the state before', async () => {
    await fx.clock.advance(60_000); // the gzip test's safety dump holds the current minute
    await sql(`UPDATE patient SET name = 'state before the broken restore' WHERE id = 3`);
    const stateBefore = await sql('CHECKSUM TABLE patient');
    // The broken statement carries a patient's name: the client echoes and quotes it, the reason must not.
    const up = await upload(svc, Buffer.from("CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1 'Anna Zürcher');\n"));
    const result = await confirmAndWait(svc, up.body);
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /ERROR 1064 \(42000\) at line 2: .* near '…' at line 1/);
    assert.doesNotMatch(result.failedReason, /Zürcher|INSERT INTO/);
    const m = /(elexisdb-sql_\d{4}-\d{2}-\d{2}-\d{4}\.sql\.gz)/.exec(result.failedReason);
    assert.ok(m, `failure names the safety dump: ${result.failedReason}`);
    assert.equal(m[1], `elexisdb-sql_${fx.clock.stamp()}.sql.gz`, 'stamped with the current minute, without waiting');
    // The state and the way back, in words (the screen names the set from them).
    assert.match(result.failedReason, new RegExp(`The database may now be empty or hold only part of the file\\. The database before the restore is in ${m[1]} \\(backup set ${fx.clock.stamp()}\\): restore that set's dump\\.$`));
    const safety = await fs.readFile(path.join(fx.backupDir, m[1]!));
    const back = await upload(svc, safety, '?skipSafetyBackup=true');
    const restored = await confirmAndWait(svc, back.body);
    assert.equal(restored.state, 'completed', restored.failedReason);
    assert.equal(await sql('CHECKSUM TABLE patient'), stateBefore);
  });

  it('a file with client commands fails the job, and none of them runs on the worker; the safety dump holds the state before', async () => {
    await fx.clock.advance(60_000); // the previous test's safety dump holds the current minute
    await sql(`UPDATE patient SET name = 'state before the forged dump' WHERE id = 3`);
    const stateBefore = await sql('CHECKSUM TABLE patient');
    const marker = (what: string) => path.join(fx.root, `ran-${what}`);
    const other = path.join(fx.root, 'other.sql');
    await fs.writeFile(other, `CREATE TABLE sourced (id INT);\n\\! touch ${marker('sourced')}\n`);
    const forged = (command: string) => Buffer.from(`-- MariaDB dump 10.19\nCREATE TABLE before_cmd (id INT);\n${command}\nCREATE TABLE after_cmd (id INT);\n-- Dump completed\n`);

    const up = await upload(svc, forged(`\\! touch ${marker('shell')}`));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const result = await confirmAndWait(svc, up.body);
    assert.equal(result.state, 'failed');
    assert.match(result.failedReason, /Unknown command '\\!'\.(?!\.)/, 'one full stop after the client\'s own');
    assert.match(result.failedReason, /the file contains a command for the mariadb client, not SQL; a restore refuses client commands/);
    assert.equal(existsSync(marker('shell')), false, 'the shell command ran on the worker');
    // What a failed load promises: the database was recreated and holds what came before the failing line.
    assert.equal(await sql(`SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}'`), 'before_cmd');
    const m = /(elexisdb-sql_\d{4}-\d{2}-\d{2}-\d{4}\.sql\.gz)/.exec(result.failedReason);
    assert.ok(m, `failure names the safety dump: ${result.failedReason}`);

    for (const [command, error] of [[`\\. ${other}`, /Unknown command '\\\.'/], [`system touch ${marker('system')}`, /ERROR 1064 \(42000\) at line \d+: .*near '…'( at line \d+)?\. The database may now be empty or hold only part of the file; no safety dump/]] as const) {
      const r = await confirmAndWait(svc, (await upload(svc, forged(command), '?skipSafetyBackup=true')).body);
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, error);
    }
    for (const what of ['sourced', 'system']) assert.equal(existsSync(marker(what)), false, `${what}: a command ran on the worker`);
    assert.equal(await sql(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}' AND TABLE_NAME = 'sourced'`), '0');

    const back = await confirmAndWait(svc, (await upload(svc, await fs.readFile(path.join(fx.backupDir, m[1]!)), '?skipSafetyBackup=true')).body);
    assert.equal(back.state, 'completed', back.failedReason);
    assert.equal(await sql('CHECKSUM TABLE patient'), stateBefore);
  });

  describe('a file that is not whole is refused before the database is touched', () => {
    let two: Buffer;
    let cut: Buffer;
    let stateBefore: string;
    const tables = () => sql(`SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}'`);
    const state = async () => `${await tables()} ${await sql('CHECKSUM TABLE patient, zz_konsultation')}`;
    const safetyDumps = async () => (await fs.readdir(fx.backupDir)).filter((f) => f.startsWith('elexisdb-sql_')).sort();
    // Failed restores above left their uploads (the sweep takes them later).
    const uploads = async () => (await fs.readdir(path.join(fx.backupDir, 'uploads'))).sort();

    before(async () => {
      // A second table after patient (mariadb-dump writes tables by name): the cut leaves it out.
      await sql(`CREATE TABLE IF NOT EXISTS zz_konsultation (id INT PRIMARY KEY, txt TEXT);
        REPLACE INTO zz_konsultation VALUES (1, 'Befund'), (2, 'Rezept');`);
      two = (await exec('mariadb-dump', [...MARIADB_ARGS, '--single-transaction', '--hex-blob', DB], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' } as any)).stdout as unknown as Buffer;
      assert.match(two.subarray(-100).toString(), /-- Dump completed on .*\n$/);
      // Cut between the two tables, as repro6-truncated-sql.sh does (a dump whose connection was lost).
      const at = two.indexOf('\n--\n-- Table structure for table `zz_konsultation`');
      assert.ok(at > 0);
      cut = two.subarray(0, at + 1);
      await sql(`UPDATE patient SET name = 'state before the cut dumps' WHERE id = 3; UPDATE zz_konsultation SET txt = 'changed' WHERE id = 2`);
      stateBefore = await state();
    });

    it('at the upload: a dump cut between two tables (plain, gzip) and a gzip cut mid-stream get 422, nothing is kept', async () => {
      const gz = gzipSync(two);
      const kept = await uploads();
      for (const [what, body, reason] of [
        ['plain', cut, /^the SQL file looks like a mariadb-dump file cut short: it does not end with "-- Dump completed" \(the dump was interrupted, or the file was copied or uploaded incompletely\); it ends with ".*"; nothing was kept$/],
        ['gzip', gzipSync(cut), /looks like a mariadb-dump file cut short: it does not end with "-- Dump completed".*; nothing was kept$/],
        ['gzip cut mid-stream', gz.subarray(0, gz.length >> 1), /^the SQL file is gzip and is cut short: it does not decompress to its end \(unexpected end of file, after \d+ bytes\);.*; nothing was kept$/],
      ] as const) {
        const up = await upload(svc, body);
        assert.equal(up.status, 422, `${what}: ${JSON.stringify(up.body)}`);
        assert.equal(up.body.error.code, 'sql_incomplete');
        assert.match(up.body.error.message, reason, what);
        assert.deepEqual(await uploads(), kept, `${what}: nothing kept`);
      }
      assert.equal(await state(), stateBefore);
    });

    it('in the job: a file cut after the upload fails unchanged, before the safety dump (plain, gzip, gzip cut mid-stream)', async () => {
      await fx.clock.advance(60_000);
      const dumpsBefore = await safetyDumps();
      const gz = gzipSync(two);
      for (const [what, good, bad, reason] of [
        ['plain', two, cut, /^the SQL file looks like a mariadb-dump file cut short: it does not end with "-- Dump completed" .*; nothing was changed$/],
        ['gzip', gz, gzipSync(cut), /looks like a mariadb-dump file cut short.*; nothing was changed$/],
        ['gzip cut mid-stream', gz, gz.subarray(0, gz.length >> 1), /^the SQL file is gzip and is cut short: .*unexpected end of file.*; nothing was changed$/],
      ] as const) {
        // The upload is whole; the file the job reads is not (a disk, a hand, a file from before this check).
        const kept = await uploads();
        const up = await upload(svc, good);
        assert.equal(up.status, 201, JSON.stringify(up.body));
        const [name] = (await uploads()).filter((f) => !kept.includes(f));
        await fs.writeFile(path.join(fx.backupDir, 'uploads', name!), bad);
        const result = await confirmAndWait(svc, up.body);
        assert.equal(result.state, 'failed', what);
        assert.match(result.failedReason, reason, what);
        assert.equal(await state(), stateBefore, `${what}: the database is unchanged`);
        await fs.rm(path.join(fx.backupDir, 'uploads', name!));
      }
      assert.deepEqual(await safetyDumps(), dumpsBefore, 'no safety dump was made for a refused file');
    });

    it('a complete dump of both tables, a --skip-comments dump and headerless SQL still load', async () => {
      const whole = await confirmAndWait(svc, (await upload(svc, gzipSync(two), '?skipSafetyBackup=true')).body);
      assert.equal(whole.state, 'completed', whole.failedReason);
      assert.equal(await tables(), 'patient,zz_konsultation');

      // No header and no completion line: cannot be checked, loads as hand-written SQL.
      const bare = (await exec('mariadb-dump', [...MARIADB_ARGS, '--single-transaction', '--hex-blob', '--skip-comments', DB], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' } as any)).stdout as unknown as Buffer;
      assert.doesNotMatch(bare.toString(), /-- (MariaDB dump|Dump completed)/);
      await sql('DROP TABLE zz_konsultation');
      const skip = await confirmAndWait(svc, (await upload(svc, bare, '?skipSafetyBackup=true')).body);
      assert.equal(skip.state, 'completed', skip.failedReason);
      assert.equal(await tables(), 'patient,zz_konsultation');

      const hand = Buffer.from('-- fix-up by hand, no dump header and no completion line\nCREATE TABLE handwritten (id INT);\nINSERT INTO handwritten VALUES (1);\n');
      const up = await upload(svc, hand, '?skipSafetyBackup=true');
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const r = await confirmAndWait(svc, up.body);
      assert.equal(r.state, 'completed', r.failedReason);
      assert.equal(await tables(), 'handwritten');
    });
  });

  it('refuses an empty upload with 400', async () => {
    const up = await upload(svc, Buffer.alloc(0));
    assert.equal(up.status, 400);
    assert.equal(up.body.error.code, 'empty_upload');
  });

  it("a run's dump with a statement longer than the server takes is complete, and says in the listing that a restore needs max_allowed_packet raised", async () => {
    await fx.clock.advance(60_000);
    const limit = Number(await sql('SELECT @@GLOBAL.max_allowed_packet'));
    // A document of (limit/2 + 64 KiB): its --hex-blob INSERT is longer than the limit.
    await sql(`CREATE TABLE big_doc (id INT PRIMARY KEY, data LONGBLOB); INSERT INTO big_doc VALUES (1, REPEAT(UNHEX('255044462D312E340A00FF'), ${Math.ceil(((limit >> 1) + 65536) / 11)}))`);
    await fs.mkdir(path.join(fx.volumesDir, 'docs'), { recursive: true }); // a run needs a volume
    await fs.writeFile(path.join(fx.volumesDir, 'docs', 'a.txt'), 'a\n');
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(svc.url, TOKEN);
    const dumpEntry = (await http(svc.url, 'GET', `/api/backups/${run.body.stamp}`, undefined, TOKEN)).body.archives.find((a: any) => a.kind === 'sql');
    assert.equal(dumpEntry.verified.ok, true, JSON.stringify(dumpEntry));
    assert.equal(dumpEntry.warnings, 1);
    assert.match(dumpEntry.warningMessages[0], /^its longest statement is [\d.]+ MiB .*the MariaDB server takes [\d.]+ MiB \(max_allowed_packet\): a restore of this dump will ask to raise it first/);
    await sql('DROP TABLE big_doc');
  });

  it('a run started before a SQL restore replaced the database dumps nothing when it reaches it after (the dump would label the restored data with the earlier minute)', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const key = `${fx.prefix}:oob-restored-at:db:${DB}`;
    try {
      assert.ok(Number(await redis.get(key)) > 0, 'the SQL restores above noted when they replaced the database');
      await redis.set(key, String(Date.now() + 3_600_000)); // as if it had been replaced after this run started
      await fx.clock.advance(60_000);
      const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
      assert.equal(run.status, 202, JSON.stringify(run.body));
      await waitForJobsSettled(svc.url, TOKEN);
      const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000', undefined, TOKEN)).body.jobs as any[];
      const dump = jobs.find((j) => j.queue === 'dump' && j.stamp === run.body.stamp);
      assert.equal(dump?.state, 'failed');
      assert.match(dump.failedReason, new RegExp(`^database ${DB} was restored at \\S+, after this run was started \\(\\S+\\): its dump would hold the restored data under \\S+; nothing was dumped`));
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it("a set's dump restores the database with the character set and collation it had at the dump (its manifest), not the one it has now", async () => {
    await fx.clock.advance(60_000);
    const defaults = () => sql(`SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`);
    const atDump = await defaults();
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(svc.url, TOKEN);
    await sql(`ALTER DATABASE \`${DB}\` CHARACTER SET latin1 COLLATE latin1_german1_ci`);
    assert.notEqual(await defaults(), atDump);
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: run.body.stamp, volumes: ['elexisdb-sql'], skipSafetyBackup: true }, TOKEN);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const r = await confirmAndWait(svc, req.body);
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(await defaults(), atDump);
  });
  it("a set's dump changed after it was written (its .sha256 sidecar no longer matches) is refused before anything changes", async () => {
    await fx.clock.advance(60_000);
    const run = await http(svc.url, 'POST', '/api/backups', {}, TOKEN);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await waitForJobsSettled(svc.url, TOKEN);
    const file = path.join(fx.backupDir, `elexisdb-sql_${run.body.stamp}.sql.gz`);
    // Still a whole gzip of a whole dump, only another one: gzip's own check cannot tell.
    const text = gunzipSync(await fs.readFile(file)).toString('latin1');
    assert.match(text, /\n-- Dump completed/);
    const other = gzipSync(Buffer.from(text.replace('\n-- Dump completed', "\nDROP TABLE IF EXISTS patient;\n-- Dump completed"), 'latin1'));
    await fs.writeFile(file, other);
    const before = await sql('CHECKSUM TABLE patient');
    const dumps = async () => (await fs.readdir(fx.backupDir)).filter((f) => f.endsWith('.sql.gz')).sort();
    const dumpsBefore = await dumps();
    await fx.clock.advance(60_000);
    const req = await http(svc.url, 'POST', '/api/restores', { stamp: run.body.stamp, volumes: ['elexisdb-sql'] }, TOKEN);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const r = await confirmAndWait(svc, req.body);
    assert.equal(r.state, 'failed');
    assert.match(r.failedReason, /^elexisdb-sql_[\d-]+\.sql\.gz is not the dump that was written: its sha256 is [0-9a-f]{64}, its \.sha256 sidecar says [0-9a-f]{64} .*nothing was changed$/);
    assert.equal(await sql('CHECKSUM TABLE patient'), before);
    assert.deepEqual(await dumps(), dumpsBefore, 'no safety dump was made');
    // Without its sidecar (deleted by hand), our dump cannot be checked either: refused the same way.
    await fs.rm(`${file}.sha256`);
    await fx.clock.advance(60_000);
    const again = await http(svc.url, 'POST', '/api/restores', { stamp: run.body.stamp, volumes: ['elexisdb-sql'] }, TOKEN);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const missing = await confirmAndWait(svc, again.body);
    assert.equal(missing.state, 'failed');
    assert.match(missing.failedReason, /has our manifest but its \.sha256 sidecar is missing or unreadable, so the dump cannot be checked; .*nothing was changed$/);
    assert.equal(await sql('CHECKSUM TABLE patient'), before);
  });
  it('a load in which MariaDB changes values (warnings in a lenient sql_mode) completes but says so, with the first messages', async () => {
    await fx.clock.advance(60_000);
    const file = "SET sql_mode = '';\nCREATE TABLE clamped (v TINYINT, s VARCHAR(3));\nINSERT INTO clamped VALUES (300, 'abcdef');\n";
    const r = await confirmAndWait(svc, (await upload(svc, Buffer.from(file), '?skipSafetyBackup=true')).body);
    assert.equal(r.state, 'completed', r.failedReason);
    assert.equal(await sql('SELECT v, s FROM clamped'), '127\tabc');
    assert.equal(r.summary.warnings.count, 2, JSON.stringify(r.summary));
    assert.equal(r.summary.otherUsersUnchecked, false, 'root has PROCESS: every connection was seen');
    assert.equal(r.summary.clientsDuringLoad, null);
    assert.match(r.summary.warnings.messages.join('\n'), /Out of range value for column 'v' at row 1\nData truncated for column 's' at row 1/);
    assert.match(r.summary.message, /MariaDB changed 2 value\(s\) while loading, so the database differs from the file there \(first: Out of range value/);
  });
  it('a client still connected to the database (Elexis left running) refuses the restore before anything changes, naming the connection', async () => {
    await fx.clock.advance(60_000);
    // An idle client in the database, as Elexis's connection pool holds one.
    const client = spawn('mariadb', [...MARIADB_ARGS, '--unbuffered', '-N', '-B', DB], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      client.stdin.write('SELECT CONNECTION_ID();\n');
      const id = await new Promise<string>((resolve) => client.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const before = await sql('CHECKSUM TABLE patient');
      const dumps = async () => (await fs.readdir(fx.backupDir)).filter((f) => f.endsWith('.sql.gz')).sort();
      const dumpsBefore = await dumps();
      const r = await confirmAndWait(svc, (await upload(svc, dump)).body);
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, new RegExp(`^1 other connection\\(s\\) use database ${DB} or, without a default database, can write into it by naming it: root@[^ ]+ \\(connection ${id}, Sleep for \\d+ s\\); .*Stop Elexis, Webelexis .*nothing was changed$`));
      assert.equal(await sql('CHECKSUM TABLE patient'), before);
      assert.deepEqual(await dumps(), dumpsBefore, 'no safety dump was made');
    } finally {
      client.stdin.end();
      await new Promise((resolve) => client.once('exit', resolve));
    }
    // The client gone, the same file loads.
    await fx.clock.advance(60_000);
    const ok = await confirmAndWait(svc, (await upload(svc, dump, '?skipSafetyBackup=true')).body);
    assert.equal(ok.state, 'completed', ok.failedReason);
  });
  it("another database's foreign key into it refuses the restore before anything changes (DROP DATABASE would stop half-way)", async () => {
    await fx.clock.advance(60_000);
    const other = `${DB}_fk`;
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${other}; CREATE TABLE ${other}.child (id INT PRIMARY KEY, patient INT, CONSTRAINT to_patient FOREIGN KEY (patient) REFERENCES ${DB}.patient (id)) ENGINE=InnoDB`]);
    try {
      const before = await sql('CHECKSUM TABLE patient');
      const r = await confirmAndWait(svc, (await upload(svc, dump, '?skipSafetyBackup=true')).body);
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, new RegExp(`^1 foreign key\\(s\\) of other databases reference tables of ${DB}: ${other}\\.child \\(to_patient, to patient\\); .*DROP FOREIGN KEY.*nothing was changed$`));
      assert.equal(await sql('CHECKSUM TABLE patient'), before);
    } finally {
      await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE ${other}`]);
    }
  });

  it('a client without a default database, which can write into it by naming it, refuses the restore too', async () => {
    await fx.clock.advance(60_000);
    // Connected to no database, writing `<db>.patient` (found by an audit: its rows stayed in the restored data unseen).
    const client = spawn('mariadb', [...MARIADB_ARGS, '--unbuffered', '-N', '-B'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      client.stdin.write(`SELECT CONNECTION_ID(); SELECT COUNT(*) FROM \`${DB}\`.patient;\n`);
      const id = await new Promise<string>((resolve) => client.stdout.once('data', (d: Buffer) => resolve(d.toString().trim().split('\n')[0]!)));
      const before = await sql('CHECKSUM TABLE patient');
      const r = await confirmAndWait(svc, (await upload(svc, dump, '?skipSafetyBackup=true')).body);
      assert.equal(r.state, 'failed');
      assert.match(r.failedReason, new RegExp(`^1 other connection\\(s\\) use database ${DB} or, without a default database, can write into it by naming it: root@[^ ]+ \\(connection ${id}, Sleep for \\d+ s, no default database\\); .*nothing was changed$`));
      assert.equal(await sql('CHECKSUM TABLE patient'), before);
    } finally {
      client.stdin.end();
      await new Promise((resolve) => client.once('exit', resolve));
    }
  });
});

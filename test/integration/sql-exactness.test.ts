/**
 * What a logical dump and its load keep, and what a load refuses before it drops anything, against
 * the real MariaDB of the tests (found by a tester with an Elexis-like database): the database's own
 * character set and collation, the history of system-versioned tables, routines whose comments
 * start like `USE x`, and a statement longer than the server takes; a client that holds the
 * database stops the DROP after the lock wait, with nothing changed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { dumpDatabase } from '../../src/db/dump.js';
import { checkSqlFile, loadSqlFile } from '../../src/db/load.js';
import { serverPacketLimit } from '../../src/db/server-facts.js';
import type { DbSettings } from '../../src/db/option-file.js';

const silent = pino({ level: 'silent' });
const DB = `oob_exact_${randomBytes(5).toString('hex')}`;
const db: DbSettings = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: DB };
let dir = '';
const holders = new Set<ChildProcess>();

function sql(query: string, database = DB): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('mariadb', ['-h', '127.0.0.1', '-uroot', '--batch', '--skip-column-names', '--default-character-set=utf8mb4', '--comments', database], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`mariadb exit ${code}: ${err}`))));
    child.stdin.end(query);
  });
}

/** The whole database as text: its defaults, every object's definition and every row's checksum, history included. */
async function state(): Promise<string> {
  return sql(`
    SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}';
    SELECT ROUTINE_NAME, ROUTINE_DEFINITION, COLLATION_CONNECTION, DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${DB}';
    SHOW CREATE TABLE patient;
    CHECKSUM TABLE patient;
    SELECT id, name, row_start, row_end FROM patient FOR SYSTEM_TIME ALL ORDER BY row_start, id;`);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'oob-sql-exact-'));
  await sql(`CREATE DATABASE \`${DB}\` CHARACTER SET latin1 COLLATE latin1_german1_ci`, 'mysql');
  await sql(`
    CREATE TABLE patient (id INT PRIMARY KEY, name VARCHAR(100)) WITH SYSTEM VERSIONING;
    INSERT INTO patient VALUES (1, 'Anna'), (2, 'Beat');
    UPDATE patient SET name = 'Anna Zürcher' WHERE id = 1;
    DELETE FROM patient WHERE id = 2;
    DELIMITER ;;
    CREATE PROCEDURE nightly()
    BEGIN
      -- Use this procedure after the nightly import.
      SELECT 'first line;
use with care;
Drop database x;' AS note;
    END;;
    DELIMITER ;`);
});

after(async () => {
  for (const h of holders) h.kill();
  await sql(`DROP DATABASE IF EXISTS \`${DB}\``, 'mysql').catch((err) => console.error('cleanup failed:', err));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a dump and its load keep the database as it was', () => {
  it("keeps the database's character set and collation, the rows' history, and a routine whose comment starts with 'Use', comment included", async () => {
    const before = await state();
    assert.match(before, /latin1\tlatin1_german1_ci/);
    assert.equal((await sql('SELECT COUNT(*) FROM patient FOR SYSTEM_TIME ALL')), '3');
    const dump = await dumpDatabase(db, { dir, fileName: 'exact.sql.gz', logger: silent });
    // The load's own check reads the routine's body as body: no switch to a database "this".
    const checked = await checkSqlFile(dump.path, DB, { logger: silent });
    assert.equal(checked.ok, true, checked.ok ? '' : checked.reason);
    await sql("UPDATE patient SET name = 'changed'; DROP PROCEDURE nightly");
    await loadSqlFile(db, dump.path, { logger: silent });
    assert.equal(await state(), before);
  });
});

describe('a restore onto a new server', () => {
  it('recreates the database with the character set and collation its dump recorded, not the new server\'s', async () => {
    const dump = await dumpDatabase(db, { dir, fileName: 'new-server.sql.gz', logger: silent });
    const manifest = JSON.parse(await readFile(`${dump.path}.manifest.json`, 'utf8')) as { database?: unknown };
    assert.deepEqual(manifest.database, { charset: 'latin1', collation: 'latin1_german1_ci' });
    const before = await state();
    // The new server's database, made by its installer with that server's defaults.
    await sql(`DROP DATABASE \`${DB}\`; CREATE DATABASE \`${DB}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`, 'mysql');
    await loadSqlFile(db, dump.path, { logger: silent, databaseDefaults: manifest.database as { charset: string; collation: string } });
    assert.equal(await state(), before);
  });
});

describe('a load refuses before it drops anything', () => {
  it('a statement longer than the server takes is measured by the check (the job refuses it, restore-sql.test.ts)', async () => {
    const limit = await serverPacketLimit(db);
    assert.equal(limit, Number(await sql('SELECT @@GLOBAL.max_allowed_packet')));
    // 9 MB of a document: an INSERT of 18 MB with --hex-blob, beyond the default 16 MB.
    await sql(`CREATE TABLE doc (id INT PRIMARY KEY, data LONGBLOB); INSERT INTO doc VALUES (1, REPEAT(UNHEX('255044462D312E340A00FF'), 860000))`);
    try {
      const dump = await dumpDatabase(db, { dir, fileName: 'big.sql.gz', logger: silent });
      const checked = await checkSqlFile(dump.path, DB, { logger: silent });
      // One statement: `INSERT INTO \`doc\` VALUES (1,0x…);` with the document in hex.
      const hex = 2 * 860000 * 11;
      assert.ok(checked.ok && checked.longestStatement > hex && checked.longestStatement < hex + 200, JSON.stringify(checked));
      // The dump measured it as it wrote it, to the byte.
      assert.equal(dump.longestStatement, checked.longestStatement);
    } finally {
      await sql('DROP TABLE doc');
    }
  });

  it('another client holding the database: the DROP gives up after the lock wait, nothing changed', async () => {
    const dump = await dumpDatabase(db, { dir, fileName: 'locked.sql.gz', logger: silent });
    const before = await state();
    const holder = spawn('mariadb', ['-h', '127.0.0.1', '-uroot', '--batch', '--unbuffered', '--skip-column-names', DB], { stdio: ['pipe', 'pipe', 'inherit'] });
    holders.add(holder);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.setEncoding('utf8').on('data', (s: string) => ((out += s), out.includes('held') && resolve()));
      holder.once('close', () => reject(new Error('the lock holder exited')));
      // An open transaction that has read a table: its metadata lock blocks DROP DATABASE.
      holder.stdin!.write("START TRANSACTION; SELECT COUNT(*) FROM patient; SELECT 'held';\n");
    });
    try {
      const err = await loadSqlFile(db, dump.path, { logger: silent, lockWaitSeconds: 1 }).then(() => assert.fail('loaded under a held lock'), (e: Error) => e);
      assert.match(err.message, /database oob_exact_\w+ was not dropped: another client held it for 1 s \(an open transaction: is Elexis or Webelexis still running\?\).*nothing was changed/);
    } finally {
      holder.stdin!.end('ROLLBACK;\n');
    }
    assert.equal(await state(), before);
  });
});

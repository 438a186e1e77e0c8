/**
 * dumpDatabase / loadSqlFile against the real MariaDB of the tests (test/helpers/service.ts: root, no
 * password, on 127.0.0.1:3306 or where test/run.ts found or started one). Each run uses its own databases and user
 * (random suffix) and drops them afterwards. GNU gzip and sha256sum check the dump files
 * independently.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { DbCommandError } from '../../src/db/client.js';
import { dumpArgs, dumpDatabase } from '../../src/db/dump.js';
import { isGzipFile, loadArgs, loadSqlFile, prepArgs } from '../../src/db/load.js';
import { clientArgs, optionFileContent, type DbSettings } from '../../src/db/option-file.js';
import { MARIADB } from '../helpers/service.js';

const exec = promisify(execFile);
const silent = pino({ level: 'silent' });
const { host: HOST, port: PORT } = MARIADB;

const suffix = randomBytes(5).toString('hex');
const DB = `oob_test_${suffix}`;
const DB_PW = `oob_test_pw_${suffix}`;
const DB_OTHER = `oob_test_other_${suffix}`;
const DB_CMD = `oob_test_cmd_${suffix}`;
const USER = `oob_u_${suffix}`;
const PASSWORD = 'p#ss \'w"d\\x';

const root = (database: string): DbSettings => ({ host: HOST, port: PORT, user: 'root', password: '', database });
const asUser = (database: string, password = PASSWORD): DbSettings => ({ host: HOST, port: PORT, user: USER, password, database });

/** Run SQL as root through the mariadb client's stdin (no argv length limit); returns stdout. */
function sql(query: string, database?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['-h', HOST, '-P', String(PORT), '-uroot', '--batch', '--skip-column-names', '--default-character-set=utf8mb4'];
    if (database) args.push(database);
    const child = spawn('mariadb', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`mariadb exit ${code}: ${err}`))));
    child.stdin.end(query);
  });
}

const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

async function checksums(database: string, tables: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of tables) {
    const line = (await sql(`CHECKSUM TABLE \`${database}\`.\`${t}\``)).trim();
    out[t] = line.split('\t')[1] ?? '';
  }
  return out;
}

/**
 * Hold a WRITE lock on `db.table` from another session, so a dump blocks at reading that table's
 * rows: the client process then stays alive long enough to be inspected or aborted.
 */
const lockHolders = new Set<ChildProcess>();
async function holdWriteLock(database: string, table: string): Promise<{ release: () => Promise<void> }> {
  // --unbuffered: otherwise the client holds 'locked' in its stdout buffer until it exits.
  // In its database: a lasting connection without one would make a SQL restore of another test file refuse (it can write anywhere).
  const child: ChildProcess = spawn('mariadb', ['-h', HOST, '-P', String(PORT), '-uroot', '--batch', '--unbuffered', '--skip-column-names', database], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  lockHolders.add(child);
  child.once('close', () => lockHolders.delete(child));
  let out = '';
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('locked')) resolve();
    });
    child.once('close', () => reject(new Error('lock holder exited')));
  });
  child.stdin!.write(`LOCK TABLES \`${database}\`.\`${table}\` WRITE; SELECT 'locked';\n`);
  await locked;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    release: async () => {
      child.stdin!.end('UNLOCK TABLES;\n');
      await closed;
    },
  };
}

/** Our own child processes running `comm` (by parent pid in /proc/<pid>/stat), polled up to `ms`. */
async function findChild(comm: string, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const st = await readFile(`/proc/${name}/stat`, 'utf8');
        // "pid (comm) state ppid ..." — comm may contain spaces, so split after the last ')'.
        const m = /^\d+ \((.*)\) \S+ (\d+)/s.exec(st);
        if (m && m[1] === comm && Number(m[2]) === process.pid) return Number(name);
      } catch {
        // process gone meanwhile
      }
    }
    await sleep(20);
  }
  throw new Error(`no child process ${comm} appeared within ${ms} ms`);
}

let tmpRoot = '';
let caseNo = 0;
const newDir = async () => {
  const d = path.join(tmpRoot, `case-${++caseNo}`);
  await mkdir(d);
  return d;
};

// A BLOB with every byte value (0x00, 0xff, quote, backslash, ...) plus 300 KiB of random bytes.
const BLOB = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300 * 1024), Buffer.from([0, 0xff, 0])]);
const blobSha = createHash('sha256').update(BLOB).digest('hex');
const TABLES = ['docs', 'notes'];

before(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'oob-mariadb-test-'));
  await sql(`
    CREATE DATABASE \`${DB}\` CHARACTER SET utf8mb4;
    USE \`${DB}\`;
    CREATE TABLE docs (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, data LONGBLOB) ENGINE=InnoDB;
    CREATE TABLE notes (id INT PRIMARY KEY, txt TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, edits INT NOT NULL DEFAULT 0) ENGINE=InnoDB;
    CREATE TRIGGER notes_bu BEFORE UPDATE ON notes FOR EACH ROW SET NEW.edits = OLD.edits + 1;
    CREATE PROCEDURE count_docs(OUT n INT) SELECT COUNT(*) INTO n FROM docs;
    DELIMITER //
    CREATE FUNCTION note_len(n INT) RETURNS INT READS SQL DATA BEGIN DECLARE l INT; SELECT CHAR_LENGTH(txt) INTO l FROM notes WHERE id = n; RETURN l; END//
    DELIMITER ;
    CREATE EVENT purge_nothing ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM notes WHERE id < 0;
    INSERT INTO docs (name, data) VALUES ('empty', X''), ('null', NULL), ('random', X'${BLOB.toString('hex')}'), ('edge', X'00FF5C27220A0D1A00');
    INSERT INTO notes (id, txt) VALUES (1, 'Zürich 🙂'), (2, ${sqlString('O\'Brien "quoted" \\ backslash')}), (3, 'Grüezi\\nzweite Zeile'),
      (4, CONCAT('CR', CHAR(13), 'CRLF', CHAR(13, 10), 'NUL', CHAR(0), 'Ende ✓'));
    UPDATE notes SET txt = CONCAT(txt, ' ✓') WHERE id = 1;

    CREATE DATABASE \`${DB_PW}\` CHARACTER SET utf8mb4;
    CREATE TABLE \`${DB_PW}\`.t (id INT PRIMARY KEY, v VARCHAR(20));
    INSERT INTO \`${DB_PW}\`.t VALUES (1, 'eins'), (2, 'zwei');
    CREATE DATABASE \`${DB_OTHER}\`;

    CREATE USER '${USER}'@'%' IDENTIFIED BY ${sqlString(PASSWORD)};
    CREATE USER '${USER}'@'localhost' IDENTIFIED BY ${sqlString(PASSWORD)};
    GRANT ALL PRIVILEGES ON \`${DB_PW}\`.* TO '${USER}'@'%';
    GRANT ALL PRIVILEGES ON \`${DB_PW}\`.* TO '${USER}'@'localhost';
  `);
});

after(async () => {
  // A test that failed while holding a lock would otherwise block the DROPs below forever.
  for (const child of lockHolders) child.kill();
  await sql(`
    DROP DATABASE IF EXISTS \`${DB}\`;
    DROP DATABASE IF EXISTS \`${DB_PW}\`;
    DROP DATABASE IF EXISTS \`${DB_OTHER}\`;
    DROP DATABASE IF EXISTS \`${DB_CMD}\`;
    DROP USER IF EXISTS '${USER}'@'%';
    DROP USER IF EXISTS '${USER}'@'localhost';
  `).catch((err) => console.error('cleanup failed:', err));
  if (tmpRoot) await rm(tmpRoot, { recursive: true, force: true });
});

describe('dumpDatabase + loadSqlFile', () => {
  let dumpPath = '';
  let original: Record<string, string> = {};

  it('dumps a database to a verified .sql.gz with sha256 sidecar', async () => {
    original = await checksums(DB, TABLES);
    assert.ok(Object.values(original).every((c) => /^\d+$/.test(c)), JSON.stringify(original));
    const dir = await newDir();
    const progress: number[] = [];
    const r = await dumpDatabase(root(DB), {
      dir,
      fileName: 'db.sql.gz',
      logger: silent,
      onProgress: (p) => progress.push(p.bytesDone),
      progressIntervalMs: 0,
    });
    dumpPath = r.path;
    assert.equal(r.file, 'db.sql.gz');
    assert.equal(r.path, path.join(dir, 'db.sql.gz'));
    assert.equal(r.size, (await stat(r.path)).size);
    assert.equal(r.sha256, createHash('sha256').update(await readFile(r.path)).digest('hex'));
    assert.ok(r.durationMs >= 0);
    assert.deepEqual((await readdir(dir)).sort(), ['db.sql.gz', 'db.sql.gz.manifest.json', 'db.sql.gz.sha256']);
    assert.equal(await readFile(`${r.path}.sha256`, 'utf8'), `${r.sha256}  db.sql.gz\n`);
    await exec('gzip', ['-t', r.path]);
    await exec('sha256sum', ['-c', '--strict', 'db.sql.gz.sha256'], { cwd: dir });
    const { stdout } = await exec('sh', ['-c', 'gzip -dc "$1" | tail -c 300', 'sh', r.path]);
    assert.match(stdout, /-- Dump completed/);
    assert.ok(progress.length > 0 && progress.at(-1)! > BLOB.length * 2, `progress ${progress.at(-1)}`);
    assert.ok(await isGzipFile(r.path));
  });

  it('never overwrites an existing dump', async () => {
    const dir = path.dirname(dumpPath);
    const before = await readFile(dumpPath);
    const sidecar = await readFile(`${dumpPath}.sha256`, 'utf8');
    await assert.rejects(dumpDatabase(root(DB), { dir, fileName: 'db.sql.gz', logger: silent }), /already exists/);
    assert.deepEqual(await readFile(dumpPath), before);
    assert.equal(await readFile(`${dumpPath}.sha256`, 'utf8'), sidecar);
    assert.deepEqual((await readdir(dir)).sort(), ['db.sql.gz', 'db.sql.gz.manifest.json', 'db.sql.gz.sha256']);
  });

  it('loads the dump back: tables, rows, BLOBs, trigger, routine and event as before', async () => {
    await sql(`
      UPDATE docs SET data = X'00' WHERE name = 'random';
      DELETE FROM docs WHERE name = 'edge';
      UPDATE notes SET txt = 'geändert';
      DROP TABLE notes;
      DROP PROCEDURE count_docs;
      DROP EVENT purge_nothing;
      CREATE TABLE extra (id INT);
    `, DB);
    assert.notDeepEqual(await checksums(DB, ['docs']), { docs: original.docs });

    const progress: Array<{ bytesDone: number; bytesTotal: number }> = [];
    const r = await loadSqlFile(root(DB), dumpPath, { logger: silent, onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    const size = (await stat(dumpPath)).size;
    assert.equal(r.bytes, size);
    assert.deepEqual(progress.at(-1), { bytesDone: size, bytesTotal: size });

    assert.deepEqual(await checksums(DB, TABLES), original);
    assert.equal((await sql(`SELECT SHA2(data, 256) FROM docs WHERE name = 'random'`, DB)).trim(), blobSha);
    assert.equal((await sql(`SELECT txt FROM notes WHERE id = 1`, DB)).trim(), 'Zürich 🙂 ✓');
    // The database was recreated, so what the dump does not know is gone.
    assert.equal((await sql(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}' AND TABLE_NAME = 'extra'`)).trim(), '0');
    assert.equal(
      (await sql(`SELECT CONCAT(EVENT_MANIPULATION, ' ', EVENT_OBJECT_TABLE) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${DB}' AND TRIGGER_NAME = 'notes_bu'`)).trim(),
      'UPDATE notes',
    );
    assert.equal(
      (await sql(`SELECT ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${DB}' AND ROUTINE_NAME = 'count_docs'`)).trim(),
      'PROCEDURE',
    );
    assert.equal((await sql(`SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${DB}' AND EVENT_NAME = 'purge_nothing'`)).trim(), '1');
    // ... and they work.
    assert.equal((await sql(`CALL count_docs(@n); SELECT @n;`, DB)).trim(), '4');
    // A routine of several statements (written with DELIMITER ;; in the dump), on the note with CR, LF and NUL.
    assert.equal((await sql(`SELECT note_len(4)`, DB)).trim(), String('CR\rCRLF\r\nNUL\0Ende ✓'.length));
    await sql(`UPDATE notes SET txt = txt WHERE id = 2`, DB);
    assert.equal((await sql(`SELECT edits FROM notes WHERE id = 2`, DB)).trim(), '1');
  });

  it('detects gzip by magic bytes, not by name (plain x.sql.gz, gzip y.sql)', async () => {
    const dir = await newDir();
    const plain = path.join(dir, 'x.sql.gz');
    const gz = path.join(dir, 'y.sql');
    await exec('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', dumpPath, plain]);
    await copyFile(dumpPath, gz);
    assert.equal(await isGzipFile(plain), false);
    assert.equal(await isGzipFile(gz), true);

    const r1 = await loadSqlFile(root(DB), plain, { logger: silent });
    assert.equal(r1.bytes, (await stat(plain)).size);
    assert.equal((await checksums(DB, ['docs'])).docs, original.docs);
    assert.equal((await sql(`SELECT SHA2(data, 256) FROM docs WHERE name = 'random'`, DB)).trim(), blobSha);

    await sql(`DELETE FROM docs`, DB);
    await loadSqlFile(root(DB), gz, { logger: silent });
    assert.deepEqual(await checksums(DB, TABLES), original);
  });

  it('loads the dump with CRLF line ends (a copy that went through Windows) to the same rows', async () => {
    const dir = await newDir();
    const crlf = path.join(dir, 'crlf.sql');
    const { stdout } = await exec('sh', ['-c', 'gzip -dc "$1"', 'sh', dumpPath], { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' });
    await writeFile(crlf, Buffer.from(stdout.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'));
    await sql(`DELETE FROM docs; DELETE FROM notes`, DB);
    await loadSqlFile(root(DB), crlf, { logger: silent });
    assert.deepEqual(await checksums(DB, TABLES), original);
    assert.equal((await sql(`CALL count_docs(@n); SELECT @n;`, DB)).trim(), '4');
  });

  it('rejects a SQL syntax error with the client message and line', async () => {
    const dir = await newDir();
    const file = path.join(dir, 'bad.sql');
    await writeFile(file, 'CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\nSELEC oops FROM a;\nINSERT INTO a VALUES (2);\n');
    const err = await loadSqlFile(root(DB_OTHER), file, { logger: silent }).catch((e: unknown) => e);
    assert.ok(err instanceof DbCommandError, String(err));
    assert.match(err.message, /ERROR 1064 \(42000\) at line 3/);
    assert.match(err.stderr, /You have an error in your SQL syntax/);
    assert.equal(err.exitCode, 1);
    // The client stopped at the error.
    assert.equal((await sql(`SELECT COUNT(*) FROM a`, DB_OTHER)).trim(), '1');

    // Same in a gzip file.
    const gz = path.join(dir, 'bad.sql.gz');
    await writeFile(gz, gzipSync(await readFile(file)));
    await assert.rejects(loadSqlFile(root(DB_OTHER), gz, { logger: silent }), (e: unknown) => e instanceof DbCommandError && /ERROR 1064 .* at line 3/.test(e.message));
  });

  it('rejects a truncated gzip file', async () => {
    const dir = await newDir();
    const file = path.join(dir, 'cut.sql.gz');
    const whole = await readFile(dumpPath);
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    await assert.rejects(loadSqlFile(root(DB_OTHER), file, { logger: silent }), /unexpected end of file|failed/i);
  });

  it('rejects an invalid database name before running anything', async () => {
    const dir = await newDir();
    await assert.rejects(loadSqlFile(root('x`; DROP DATABASE y'), dumpPath, { logger: silent }), /invalid database name/);
    await assert.rejects(dumpDatabase(root('a-b'), { dir, fileName: 'f.sql.gz', logger: silent }), /invalid database name/);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('a SQL file is SQL only: client commands in it are refused', () => {
  it('both client runs get --binary-mode and --sandbox', () => {
    for (const args of [loadArgs(DB_CMD), prepArgs('SELECT 1')]) {
      assert.ok(args.includes('--binary-mode') && args.includes('--sandbox'), args.join(' '));
    }
  });

  // Each file: a statement, the client command, a statement. The client stops at the command, as at
  // a SQL error: the database was recreated, holds what came before the command, nothing after.
  // The error names the line; the fragment it quotes is masked like any data (withoutData).
  const cases: { name: string; command: (marker: string, other: string) => string; error: RegExp }[] = [
    { name: '\\! (shell)', command: (marker) => `\\! touch ${marker}`, error: /ERROR at line 3: Unknown command '\\!'/ },
    { name: '\\. (source a file)', command: (_marker, other) => `\\. ${other}`, error: /ERROR at line 3: Unknown command '\\\.'/ },
    { name: 'system', command: (marker) => `system touch ${marker}`, error: /ERROR 1064 \(42000\) at line 3: .*near '…'( at line \d+)?$/ },
    { name: 'source', command: (_marker, other) => `source ${other}`, error: /ERROR 1064 \(42000\) at line 3: .*near '…'( at line \d+)?$/ },
    { name: 'tee', command: (marker) => `tee ${marker}`, error: /ERROR 1064 \(42000\) at line 3: .*near '…'( at line \d+)?$/ },
  ];
  for (const c of cases) {
    it(`${c.name}: nothing runs on this machine, the load fails with the client's message`, async () => {
      const dir = await newDir();
      const marker = path.join(dir, 'ran-a-command');
      const other = path.join(dir, 'other.sql');
      await writeFile(other, `CREATE TABLE sourced (id INT);\n\\! touch ${marker}\n`);
      await sql(`DROP DATABASE IF EXISTS \`${DB_CMD}\`; CREATE DATABASE \`${DB_CMD}\`; CREATE TABLE \`${DB_CMD}\`.old_data (id INT)`);
      const file = path.join(dir, 'evil.sql');
      await writeFile(file, `-- MariaDB dump 10.19\nCREATE TABLE before_cmd (id INT); INSERT INTO before_cmd VALUES (1);\n${c.command(marker, other)}\nCREATE TABLE after_cmd (id INT);\n`);
      const err = await loadSqlFile(root(DB_CMD), file, { logger: silent }).catch((e: unknown) => e);
      assert.ok(err instanceof DbCommandError, String(err));
      assert.match(err.message, c.error);
      if (c.name.startsWith('\\')) assert.match(err.message, /the file contains a command for the mariadb client, not SQL; a restore refuses client commands/);
      assert.equal(existsSync(marker), false, 'the command ran');
      const tables = (await sql(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_CMD}' ORDER BY 1`)).trim();
      assert.equal(tables, 'before_cmd', 'recreated, loaded up to the command, nothing after it');
      assert.equal((await sql('SELECT COUNT(*) FROM before_cmd', DB_CMD)).trim(), '1');
    });
  }

  it('--sandbox alone refuses a client command too ("Not allowed in the sandbox mode"): the second lock', async () => {
    // Shown with the client itself, without --binary-mode: what a load would say if that flag were dropped.
    const dir = await newDir();
    const marker = path.join(dir, 'ran-a-command');
    const { stderr } = await exec('sh', ['-c', `printf '%s\\n' "\\\\! touch $1" | mariadb -h "$2" -P "$3" -uroot --batch --sandbox; true`, 'sh', marker, HOST, String(PORT)]);
    assert.match(stderr, /Not allowed in the sandbox mode/);
    assert.equal(existsSync(marker), false);
  });

  it('a client without --sandbox fails before the database is dropped, saying it is too old', async () => {
    // A stand-in mariadb first on PATH (this test process only) that answers like a client older than 10.11.8.
    const bin = await newDir();
    await writeFile(path.join(bin, 'mariadb'), `#!/bin/sh\necho "mariadb: unknown option '--sandbox'" >&2\nexit 7\n`, { mode: 0o755 });
    await sql(`DROP DATABASE IF EXISTS \`${DB_CMD}\`; CREATE DATABASE \`${DB_CMD}\`; CREATE TABLE \`${DB_CMD}\`.kept (id INT)`);
    const file = path.join(await newDir(), 'ok.sql');
    await writeFile(file, 'CREATE TABLE t (id INT);\n');
    const pathBefore = process.env.PATH;
    process.env.PATH = `${bin}:${pathBefore}`;
    try {
      await assert.rejects(loadSqlFile(root(DB_CMD), file, { logger: silent }), /client on this worker is too old for a safe SQL restore: it lacks --sandbox.*the database was not changed/);
    } finally {
      process.env.PATH = pathBefore;
    }
    assert.equal((await sql(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB_CMD}'`)).trim(), 'kept');
  });
});

describe('dumpDatabase failures leave nothing behind', () => {
  it('wrong password → DbCommandError "Access denied", no file, no .partial', async () => {
    const dir = await newDir();
    const err = await dumpDatabase(asUser(DB_PW, 'wrong'), { dir, fileName: 'd.sql.gz', logger: silent }).catch((e: unknown) => e);
    assert.ok(err instanceof DbCommandError, String(err));
    assert.match(err.message, /Access denied/);
    assert.notEqual(err.exitCode, 0);
    assert.deepEqual(await readdir(dir), []);
  });

  it('unreachable server → rejects, no file, no .partial', async () => {
    const dir = await newDir();
    const db: DbSettings = { ...root(DB), port: 1 };
    await assert.rejects(dumpDatabase(db, { dir, fileName: 'd.sql.gz', logger: silent }), (e: unknown) => e instanceof DbCommandError && /connect/i.test(e.message));
    assert.deepEqual(await readdir(dir), []);
  });

  it('missing database → rejects with the client message', async () => {
    const dir = await newDir();
    await assert.rejects(dumpDatabase(root(`oob_test_missing_${suffix}`), { dir, fileName: 'd.sql.gz', logger: silent }), /Unknown database/);
    assert.deepEqual(await readdir(dir), []);
  });

  it('a dump that ends without the completion line but exits 0 is refused, saying where it stopped; nothing is left', async () => {
    // A stand-in mariadb-dump first on PATH (this test process only): the real one's first lines, then
    // it stops mid-INSERT and exits 0, as a client cut off by a lost connection can.
    const dir = await newDir();
    const bin = await newDir();
    const cut = "INSERT INTO `t` VALUES (1,'cut her";
    await writeFile(path.join(bin, 'mariadb-dump'), `#!/bin/sh\nprintf '%s\\n\\n%s' '-- MariaDB dump 10.19' "${cut.replace(/`/g, '\\`')}"\nexit 0\n`, { mode: 0o755 });
    const pathBefore = process.env.PATH;
    process.env.PATH = `${bin}:${pathBefore}`;
    try {
      await assert.rejects(
        dumpDatabase(root(DB), { dir, fileName: 'cut.sql.gz', logger: silent }),
        (e: unknown) =>
          e instanceof DbCommandError &&
          e.message.includes('lacks the "-- Dump completed" line') &&
          e.message.includes(`(${23 + cut.length} bytes received, ending ${JSON.stringify(cut)})`),
      );
    } finally {
      process.env.PATH = pathBefore;
    }
    assert.deepEqual(await readdir(dir), []);
  });

  it('abort kills the client and removes the .partial', async () => {
    const dir = await newDir();
    const lock = await holdWriteLock(DB_PW, 't');
    try {
      const ac = new AbortController();
      const p = dumpDatabase(root(DB_PW), { dir, fileName: 'd.sql.gz', logger: silent, signal: ac.signal });
      const pid = await findChild('mariadb-dump');
      assert.ok(existsSync(path.join(dir, 'd.sql.gz.partial')));
      ac.abort();
      await assert.rejects(p, (e: unknown) => e instanceof Error && e.name === 'AbortError');
      assert.equal(existsSync(`/proc/${pid}`), false, 'client still running');
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await lock.release();
    }
  });
});

describe('credentials', () => {
  it('a password with # quotes spaces and backslash works; it is in no argv or environment; the option file is removed', async () => {
    const dir = await newDir();
    const lock = await holdWriteLock(DB_PW, 't');
    let pid: number;
    let defaultsFile: string;
    let p: Promise<unknown>;
    try {
      p = dumpDatabase(asUser(DB_PW), { dir, fileName: 'pw.sql.gz', logger: silent });
      pid = await findChild('mariadb-dump');
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      assert.equal(path.basename(argv[0] ?? ''), 'mariadb-dump');
      assert.match(argv[1] ?? '', /^--defaults-extra-file=/);
      for (const s of [PASSWORD, 'p#ss', 'w"d']) {
        assert.ok(!argv.some((a) => a.includes(s)), `argv contains ${s}: ${argv.join(' ')}`);
        assert.ok(!environ.includes(s), 'environment contains the password');
      }
      assert.ok(!/MYSQL_PWD=/.test(environ));
      defaultsFile = (argv[1] ?? '').slice('--defaults-extra-file='.length);
      assert.equal((await stat(defaultsFile)).mode & 0o777, 0o600);
      assert.equal((await stat(path.dirname(defaultsFile))).mode & 0o777, 0o700);
      assert.ok((await readFile(defaultsFile, 'utf8')).startsWith('[client]\n'));
      // Sanity: the process is really our dump, started with the file we inspected.
      assert.ok((await readlink(`/proc/${pid}/exe`)).includes('mariadb'));
    } finally {
      await lock.release();
    }
    await p!;
    assert.equal(existsSync(defaultsFile!), false, 'defaults file left behind');
    assert.equal(existsSync(path.dirname(defaultsFile!)), false, 'defaults dir left behind');
    assert.deepEqual((await readdir(dir)).sort(), ['pw.sql.gz', 'pw.sql.gz.manifest.json', 'pw.sql.gz.sha256']);

    // Load with the same user (DROP/CREATE on its own database + the client).
    const before = await checksums(DB_PW, ['t']);
    await sql(`DELETE FROM t`, DB_PW);
    await loadSqlFile(asUser(DB_PW), path.join(dir, 'pw.sql.gz'), { logger: silent });
    assert.deepEqual(await checksums(DB_PW, ['t']), before);
  });

  it('clientArgs / dumpArgs never carry the password; the option file quotes it', () => {
    const db = asUser(DB_PW);
    const args = [...clientArgs('/tmp/x/client.cnf', dumpArgs(DB_PW)), ...clientArgs('/tmp/x/client.cnf', [])];
    assert.equal(args[0], '--defaults-extra-file=/tmp/x/client.cnf');
    assert.ok(!args.some((a) => a.includes('p#ss') || /password/i.test(a)));
    const cnf = optionFileContent(db);
    assert.match(cnf, /^\[client\]\n/);
    assert.ok(cnf.includes('password="p#ss \\\'w\\"d\\\\x"\n'), cnf);
    assert.ok(!optionFileContent({ ...db, password: undefined }).includes('password'));
  });
});

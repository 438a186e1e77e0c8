/**
 * A dump whose view belongs to another MariaDB user than DB_USER (a view an administrator made as
 * root, say): creating it again takes the SET USER privilege. Without it the load stopped at that
 * view after the database was dropped, half loaded, and the safety dump (it holds the same view)
 * could not bring it back either. Now the restore is refused before anything changes, naming the
 * owner and the grant, and the run's dump says so in the listing the same night.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_START } from '../helpers/clock.js';
import { DB_ENV, http, makeFixture, MARIADB_ARGS, restoreAndWait, runNowAndSettle, startService, type Fixture, type Service } from '../helpers/service.js';
import { exec } from '../helpers/volumes.js';

const TOKEN = 'sql-definers-token-0123456789';
const ID = randomBytes(4).toString('hex');
const DB = `oob_sqldef_${ID}`;
const USER = `oob_def_${ID}`;
const PASSWORD = `pw#${ID}"x`;
const HOSTS = ['127.0.0.1', 'localhost'];

const root = async (query: string, db = '') => (await exec('mariadb', [...MARIADB_ARGS, '-N', '-B', ...(db ? [db] : []), '-e', query])).stdout.trim();
const state = async () => [await root('CHECKSUM TABLE patient', DB), await root('SELECT COUNT(*) FROM v_patient', DB), await root('SHOW FULL TABLES', DB)].join('\n');

describe('a dump with a view of another MariaDB user, restored by a DB_USER without SET USER', () => {
  let fx: Fixture;
  let svc: Service;

  before(async () => {
    await root(`CREATE DATABASE ${DB}`);
    for (const h of HOSTS) await root(`CREATE USER '${USER}'@'${h}' IDENTIFIED BY '${PASSWORD.replace(/"/g, '\\"')}'; GRANT ALL ON ${DB}.* TO '${USER}'@'${h}'`);
    // The view is root's (its DEFINER), as when an administrator made it.
    await root(`CREATE TABLE patient (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO patient VALUES (1, 'Anna'), (2, 'Beat');
      CREATE DEFINER = 'root'@'localhost' SQL SECURITY INVOKER VIEW v_patient AS SELECT id, name FROM patient`, DB);
    fx = await makeFixture({ API_TOKEN: TOKEN, HOST: '127.0.0.1', ...DB_ENV, DB_NAME: DB, DB_USER: USER, DB_PASSWORD: PASSWORD }, { clock: TEST_START });
    // The tools the service starts write down the environment they were given (then run as ever).
    const bin = path.join(fx.root, 'env-bin');
    await fs.mkdir(bin);
    for (const tool of ['mariadb', 'mariadb-dump', 'tar']) {
      const real = (await exec('sh', ['-c', `command -v ${tool}`])).stdout.trim();
      await fs.writeFile(path.join(bin, tool), `#!/bin/sh\nenv >> '${path.join(fx.root, 'tool-env.txt')}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    }
    fx.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    await fs.mkdir(path.join(fx.volumesDir, 'docs'));
    await fs.writeFile(path.join(fx.volumesDir, 'docs', 'a.txt'), 'a\n');
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
    await root(`DROP DATABASE IF EXISTS ${DB}`);
    for (const h of HOSTS) await root(`DROP USER IF EXISTS '${USER}'@'${h}'`);
  });

  it("the run's dump says that a restore needs SET USER; the restore is refused before anything changes; with the grant it loads", async () => {
    const stamp = await runNowAndSettle(svc.url, TOKEN);
    const dump = (await http(svc.url, 'GET', `/api/backups/${stamp}`, undefined, TOKEN)).body.archives.find((a: any) => a.kind === 'sql');
    assert.equal(dump.verified.ok, true, JSON.stringify(dump));
    assert.equal(dump.warnings, 1, JSON.stringify(dump));
    assert.match(dump.warningMessages[0], /owned by other MariaDB users \(DEFINER root@localhost\).*lacks the SET USER privilege/);

    await root("UPDATE patient SET name = 'changed' WHERE id = 1", DB);
    const before = await state();
    await fx.clock.advance(60_000);
    const refused = await restoreAndWait(svc.url, { stamp, volumes: ['elexisdb-sql'] }, { token: TOKEN });
    assert.equal(refused.state, 'failed');
    assert.match(refused.failedReason, /DEFINER root@localhost\), and DB_USER oob_def_\w+@(127\.0\.0\.1|localhost) may not .*GRANT SET USER ON \*\.\* TO 'oob_def_\w+'@'[\w.]+';.*nothing was changed$/);
    assert.equal(await state(), before, 'the database is as it was');
    assert.deepEqual((await fs.readdir(fx.backupDir)).filter((f) => f.endsWith('.sql.gz')), [`elexisdb-sql_${stamp}.sql.gz`], 'no safety dump was made');
    assert.ok(!refused.failedReason.includes(PASSWORD));

    for (const h of HOSTS) await root(`GRANT SET USER ON *.* TO '${USER}'@'${h}'`);
    await fx.clock.advance(60_000);
    const loaded = await restoreAndWait(svc.url, { stamp, volumes: ['elexisdb-sql'], skipSafetyBackup: true }, { token: TOKEN });
    assert.equal(loaded.state, 'completed', loaded.failedReason);
    // This DB_USER lacks PROCESS: MariaDB showed it only its own connections, and the summary says so.
    assert.equal(loaded.summary.otherUsersUnchecked, true, JSON.stringify(loaded.summary));
    assert.match(loaded.summary.message, /DB_USER oob_def_\w+ lacks the PROCESS privilege, so MariaDB showed it only its own connections; clients of other MariaDB users could not be checked/);
    assert.equal(await root('SELECT name FROM v_patient WHERE id = 1', DB), 'Anna');
    assert.equal(await root(`SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${DB}'`), 'root@localhost');
  });

  it("the tools the service starts (mariadb-dump, mariadb, GNU tar) get neither DB_PASSWORD nor API_TOKEN in their environment", async () => {
    const seen = await fs.readFile(path.join(fx.root, 'tool-env.txt'), 'utf8');
    assert.match(seen, /^DB_USER=oob_def_/m, 'the wrappers ran and wrote the environment down');
    assert.ok(!seen.includes(PASSWORD), 'the database password in a tool\'s environment');
    assert.ok(!seen.includes(TOKEN), 'the API token in a tool\'s environment');
    assert.doesNotMatch(seen, /^(DB_PASSWORD|API_TOKEN)=/m);
  });
});

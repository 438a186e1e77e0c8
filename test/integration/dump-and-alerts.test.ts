/**
 * The logical database dump of every run (real MariaDB), restorable from the listing; failures,
 * size drops and overdue volumes reaching a person through the webhook; /metrics after a run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { logLines } from '../helpers/logs.js';
import { DB_ENV, http, makeFixture, MARIADB_ARGS, runNowAndSettle, REDIS_URL, startService, waitFor, type Fixture, type Service } from '../helpers/service.js';
import { exec, gnuTarArchive, makeVolume } from '../helpers/volumes.js';

const DB = `oob_dumprun_${randomBytes(4).toString('hex')}`;
const sql = async (query: string, db = DB) =>
  (await exec('mariadb', [...MARIADB_ARGS, '--default-character-set=utf8mb4', '-N', '-B', db, '-e', query])).stdout.trim();


describe('logical dump in every run', () => {
  let fx: Fixture;
  let svc: Service;
  let receiver: Receiver;

  before(async () => {
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}`]);
    await sql(`CREATE TABLE doc (id INT PRIMARY KEY, body LONGBLOB, title VARCHAR(50)) CHARSET utf8mb4;
      CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, doc INT);
      CREATE TRIGGER doc_ins AFTER INSERT ON doc FOR EACH ROW INSERT INTO audit (doc) VALUES (NEW.id);
      CREATE PROCEDURE doc_count() SELECT COUNT(*) FROM doc;
      INSERT INTO doc VALUES (1, UNHEX('00FF00FF'), 'Zürich'), (2, RANDOM_BYTES(1000), 'b'), (3, NULL, 'c');`);
    receiver = await startReceiver();
    fx = await makeFixture({ ...DB_ENV, DB_NAME: DB, NOTIFY_WEBHOOK_URL: receiver.url, NOTIFY_ON: 'always' });
    await makeVolume(path.join(fx.volumesDir, 'elexisdb'), 'elexisdb');
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await receiver?.close();
    await fx?.cleanup();
    await exec('mariadb', [...MARIADB_ARGS, '-e', `DROP DATABASE IF EXISTS ${DB}; DROP DATABASE IF EXISTS ${DB}_copy`]);
  });

  it('adds a verified <name>_<stamp>.sql.gz to the set that restores with equal table checksums', async () => {
    const before = { doc: await sql('CHECKSUM TABLE doc'), audit: await sql('CHECKSUM TABLE audit') };
    const stamp = await runNowAndSettle(svc.url);
    const set = (await http(svc.url, 'GET', `/api/backups/${stamp}`)).body;
    const dump = set.archives.find((a: any) => a.kind === 'sql');
    assert.equal(dump.file, `elexisdb-sql_${stamp}.sql.gz`);
    assert.equal(dump.verified.ok, true);
    assert.match(dump.sha256, /^[0-9a-f]{64}$/);

    // Into an empty database by hand, as an admin would.
    await exec('mariadb', [...MARIADB_ARGS, '-e', `CREATE DATABASE ${DB}_copy`]);
    await exec('bash', ['-c', `gunzip -c '${path.join(fx.backupDir, dump.file)}' | mariadb ${MARIADB_ARGS.join(' ')} ${DB}_copy`]);
    assert.equal((await sql('CHECKSUM TABLE doc', `${DB}_copy`)).split('\t')[1], before.doc.split('\t')[1]);
    assert.equal((await sql('CHECKSUM TABLE audit', `${DB}_copy`)).split('\t')[1], before.audit.split('\t')[1]);
    assert.match(await sql(`SHOW TRIGGERS`, `${DB}_copy`), /doc_ins/);
    assert.match(await sql(`SHOW PROCEDURE STATUS WHERE Db = '${DB}_copy'`, `${DB}_copy`), /doc_count/);

    // And through the API, straight from the listing: no upload.
    await sql(`DELETE FROM doc WHERE id = 2`);
    const req = await http(svc.url, 'POST', '/api/restores', { stamp, volumes: ['elexisdb-sql'], skipSafetyBackup: true });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const conf = await http(svc.url, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token });
    assert.equal(conf.status, 202);
    const done = await waitFor(async () => {
      const r = (await http(svc.url, 'GET', `/api/restores/${req.body.id}`)).body;
      return r.state === 'completed' || r.state === 'failed' ? r : undefined;
    }, 60_000, 'restore from the listed dump');
    assert.equal(done.state, 'completed', done.failedReason);
    assert.equal(await sql('CHECKSUM TABLE doc'), before.doc);
    assert.ok(await fs.stat(path.join(fx.backupDir, dump.file)), 'the listed dump stays after its restore');
  });

  it('sends run.finished alerts with NOTIFY_ON=always, and /metrics shows the last archive per volume', async () => {
    await waitFor(() => receiver.alerts.some((a) => a.event === 'run.finished' && a.volume === 'elexisdb-sql'), 10_000, 'run.finished alert');
    // Each names what was backed up, as the listing's `kind` does (not the prune job that sent it).
    const finished = receiver.alerts.filter((a) => a.event === 'run.finished');
    assert.deepEqual(new Set(finished.map((a) => `${a.volume}:${a.kind}`)), new Set(['elexisdb:volume', 'elexisdb-sql:sql']), JSON.stringify(finished));
    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /oob_backup_last_success_timestamp_seconds\{volume="elexisdb"\} \d+/);
    assert.match(text, /oob_backup_last_archive_size_bytes\{volume="elexisdb-sql"\} \d+/);
    assert.match(text, /oob_backup_queue_jobs\{queue="archive",state="completed"\} [1-9]/);
    assert.match(text, /oob_backup_backup_dir_free_bytes \d+/);
  });
});

describe('failures and warnings reach the webhook', () => {
  let fx: Fixture;
  let svc: Service;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    // Port 1: nothing listens, so the dump fails; the volume archives must not care.
    fx = await makeFixture({
      DB_HOST: '127.0.0.1', DB_PORT: '1', DB_NAME: 'elexis', NOTIFY_WEBHOOK_URL: receiver.url, OVERDUE_CHECK_INTERVAL: '1', OVERDUE_GRACE: '0',
      LOG_LEVEL: 'debug', // every overdue check logs what it alerted
    });
    await makeVolume(path.join(fx.volumesDir, 'pacsdata'), 'pacsdata');
    await fs.writeFile(path.join(fx.volumesDir, 'pacsdata', 'big.dcm'), randomBytes(1024 * 1024));
    // The previous generation, full size; the volume is then mostly wiped before the run.
    await gnuTarArchive(path.join(fx.volumesDir, 'pacsdata'), path.join(fx.backupDir, 'pacsdata_2024-01-01-0315.tar.gz'));
    await fs.rm(path.join(fx.volumesDir, 'pacsdata', 'big.dcm'));
    await fs.rm(path.join(fx.volumesDir, 'pacsdata', 'nested'), { recursive: true });
    const redis = new Redis(REDIS_URL);
    // keep=1, and a schedule that last fired on 1 January: overdue for the dump that never worked.
    await redis.set(`${fx.prefix}:oob-settings:schedule`, JSON.stringify({ minute: '0', hour: '0', day: '1', month: '1', weekday: '*', keep: 1, enabled: true }));
    // In effect since 2020 (a tick from before the schedule existed is due nothing).
    await redis.set(`${fx.prefix}:oob-settings:schedule-since`, '2020-01-01T00:00:00.000Z');
    redis.disconnect();
    svc = await startService('start', fx.env);
  });
  after(async () => {
    await svc?.stop();
    await receiver?.close();
    await fx?.cleanup();
  });

  it('a dump that cannot connect fails with the reason, leaves no file, and alerts', async () => {
    const stamp = await runNowAndSettle(svc.url);
    const jobs = (await http(svc.url, 'GET', '/api/jobs?limit=1000')).body.jobs as any[];
    const dump = jobs.find((j) => j.name === 'dump');
    assert.equal(dump.state, 'failed');
    assert.match(dump.failedReason, /connect|Can't/i);
    const names = await fs.readdir(fx.backupDir);
    assert.ok(!names.some((n) => n.includes('.sql.gz')), names.join());
    assert.ok(names.includes(`pacsdata_${stamp}.tar.gz`));
    const alert = await waitFor(() => receiver.alerts.find((a) => a.event === 'job.failed' && a.kind === 'dump'), 15_000, 'job.failed alert');
    assert.equal(alert.stamp, stamp);
    assert.match(alert.reason, /connect|Can't/i);
  });

  it('flags a wiped volume, alerts, and keeps the good old generation despite keep=1', async () => {
    const alert = await waitFor(() => receiver.alerts.find((a) => a.event === 'archive.size_drop'), 15_000, 'size-drop alert');
    assert.equal(alert.volume, 'pacsdata');
    const sets = (await http(svc.url, 'GET', '/api/backups')).body.sets as any[];
    const flagged = sets[0].archives.find((a: any) => a.volume === 'pacsdata');
    assert.ok(flagged.sizeDrop && flagged.sizeDrop.ratio < 0.5, JSON.stringify(flagged));
    assert.ok((await fs.readdir(fx.backupDir)).includes('pacsdata_2024-01-01-0315.tar.gz'), 'good old generation kept');
  });

  it('alerts once per volume when the last scheduled tick has no archive', async () => {
    const overdue = await waitFor(() => {
      const o = receiver.alerts.filter((a) => a.event === 'backup.overdue');
      return o.some((a) => a.volume === 'elexisdb-sql') ? o : undefined;
    }, 15_000, 'overdue alert');
    // Two more checks after the one that alerted, each alerting nothing for the volume.
    const checks = () => logLines(svc.logs(), 'overdue check done').map((l) => l.alerted as string[]);
    const later = await waitFor(() => {
      const all = checks();
      const first = all.findIndex((a) => a.includes('elexisdb-sql'));
      return first >= 0 && all.length - first > 2 ? all.slice(first + 1) : undefined;
    }, 15_000, 'two more overdue checks');
    assert.ok(later.every((a) => !a.includes('elexisdb-sql')), JSON.stringify(later));
    assert.equal(logLines(svc.logs(), 'backup overdue').filter((l) => l.volume === 'elexisdb-sql').length, 1, 'queued once');
    const again = receiver.alerts.filter((a) => a.event === 'backup.overdue' && a.volume === 'elexisdb-sql');
    assert.equal(again.length, 1);
    assert.match(overdue.find((a) => a.volume === 'elexisdb-sql').reason, /since ever/);
    // The failed dump was one alert: its verify and prune, failed only because it failed
    // ("child … failed"), sent none (seconds after the run, with every check above in between).
    const failures = receiver.alerts.filter((a) => a.event === 'job.failed');
    assert.deepEqual(failures.map((a) => a.kind), ['dump'], JSON.stringify(failures.map((a) => a.reason)));
  });
});

/**
 * The off-site engine against real targets: an OpenSSH server as an SFTP remote and `rclone serve
 * webdav`, both started here on free ports. GNU tar writes the archive, the `age` CLI decrypts and
 * `sha256sum -c` checks what arrived: nothing of ours reads our own output.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decryptStream } from '../../src/engine/offsite/age.js';
import { encryptedSize } from '../../src/engine/offsite/age-encrypt.js';
import { copyArchive } from '../../src/engine/offsite/copy-archive.js';
import { fetchArchive } from '../../src/engine/offsite/fetch-archive.js';
import { listRemoteArchives } from '../../src/engine/offsite/remote-listing.js';
import { applyRemoteRetention } from '../../src/engine/offsite/remote-retention.js';
import { configSecrets, lsjson, type RcloneOptions } from '../../src/engine/offsite/rclone.js';
import { RcloneDaemon } from '../../src/engine/offsite/rclone-daemon.js';
import { sendObject, verifyObject } from '../../src/engine/offsite/send.js';
import os from 'node:os';
import { procedureScript } from '../helpers/emergency-procedure.js';
import { rcloneConfig, startSftpServer, startWebdavServer, type TestRemote } from '../helpers/offsite-servers.js';
import { waitFor } from '../helpers/service.js';

let work = '';
let sftp: TestRemote;
let dav: TestRemote;
let rclone: RcloneOptions;
let identity = '';
let recipient = '';
const FILE = 'lucindadata_2026-11-21-0315.tar.gz';

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-offsite-'));
  // One after the other: each is assigned before the next can fail, so that `after` stops it.
  sftp = await startSftpServer(work);
  dav = await startWebdavServer(work);
  const configFile = await rcloneConfig(path.join(work, 'rclone.conf'), [sftp, dav]);
  rclone = { configFile, secrets: await configSecrets(configFile) };
  identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  recipient = /public key: (age1\S+)/.exec(identity)![1]!;
  await fs.writeFile(path.join(work, 'key.txt'), identity, { mode: 0o600 });
  // A small volume archived by GNU tar, with the sidecars the archive job writes.
  const vol = path.join(work, 'vol');
  await fs.mkdir(path.join(vol, 'docs'), { recursive: true });
  await fs.writeFile(path.join(vol, 'docs', 'Bericht.txt'), 'Befund\n'.repeat(5000));
  await fs.writeFile(path.join(vol, 'random.bin'), execFileSync('head', ['-c', '300000', '/dev/urandom']));
  const backup = path.join(work, 'backup');
  await fs.mkdir(backup);
  execFileSync('tar', ['-C', vol, '-czf', path.join(backup, FILE), '.']);
  execSync(`sha256sum ${FILE} > ${FILE}.sha256`, { cwd: backup });
  const sha256 = execFileSync('sha256sum', [path.join(backup, FILE)], { encoding: 'utf8' }).slice(0, 64);
  await fs.writeFile(path.join(backup, `${FILE}.manifest.json`), JSON.stringify({ tool: 'oob-backup', file: FILE, sha256, entries: 4, entryDigest: 'of the four entries' }));
});

after(async () => {
  await Promise.all([sftp?.stop(), dav?.stop()]);
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('copy of an archive to a target', () => {
  it('encrypted to SFTP: <file>.age and sidecars arrive; age -d | tar -tz lists the volume; sha256sum -c passes', async () => {
    const r = await copyArchive({ rclone, target: `${sftp.name}:${path.join(sftp.dir, 'offsite/practice')}`, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] });
    const landed = path.join(sftp.dir, 'offsite/practice');
    const names = (await fs.readdir(landed)).sort();
    assert.deepEqual(names, [`${FILE}.age`, `${FILE}.age.sha256`, `${FILE}.manifest.json.age`, `${FILE}.sha256`].sort());
    assert.equal(r.file, `${FILE}.age`);
    assert.match(r.verification, /^(md5|sha1)$/, 'SFTP hashes the object on its side (md5sum, sha1sum)');
    execFileSync('sha256sum', ['-c', `${FILE}.age.sha256`], { cwd: landed, stdio: 'ignore' });
    const listing = execSync(`age -d -i ${path.join(work, 'key.txt')} ${FILE}.age | tar -tzf -`, { cwd: landed, encoding: 'utf8' });
    assert.match(listing, /\.\/docs\/Bericht\.txt/);
    // Decrypted, it is the local archive byte for byte: its plaintext sidecar says so.
    execSync(`age -d -i ${path.join(work, 'key.txt')} -o ${path.join(work, FILE)} ${FILE}.age`, { cwd: landed });
    assert.equal(execSync(`sha256sum < ${path.join(work, FILE)}`, { encoding: 'utf8' }).slice(0, 64), (await fs.readFile(path.join(landed, `${FILE}.sha256`), 'utf8')).slice(0, 64));
  });

  it('a copy replaced on the target with matching sidecars is refused when this server recorded the original', async () => {
    const remote = `${sftp.name}:${path.join(sftp.dir, 'offsite/forged')}`;
    const backupDir = path.join(work, 'backup');
    const original = await copyArchive({ rclone, target: remote, backupDir, file: FILE, recipients: [recipient] });
    // Whoever can write to the target: another archive, encrypted to the (public) recipient, with sidecars to match.
    const landed = path.join(sftp.dir, 'offsite/forged');
    const forgedPlain = path.join(work, 'forged.tar.gz');
    execFileSync('tar', ['-czf', forgedPlain, '-C', path.join(work, 'vol'), './docs']);
    execFileSync('age', ['-r', recipient, '-o', path.join(landed, `${FILE}.age`), forgedPlain]);
    const sha = (f: string) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).slice(0, 64);
    await fs.writeFile(path.join(landed, `${FILE}.age.sha256`), `${sha(path.join(landed, `${FILE}.age`))}  ${FILE}.age\n`);
    await fs.writeFile(path.join(landed, `${FILE}.sha256`), `${sha(forgedPlain)}  ${FILE}\n`);
    const archive = (await listRemoteArchives(rclone, remote)).find((a) => a.file === FILE)!;
    const into = async (name: string) => {
      const dir = path.join(work, name);
      await fs.mkdir(dir);
      return dir;
    };
    await assert.rejects(
      fetchArchive({ rclone, target: remote, archive, backupDir: await into('fetch-recorded'), identity, recordedSha256: original.sha256 }),
      /is not the copy this server uploaded/,
    );
    // Without the record (a new server): the encrypted manifest, which the forger could not read,
    // still gives the original's sha256 (a forger must write a manifest of their own: README).
    await assert.rejects(
      fetchArchive({ rclone, target: remote, archive, backupDir: await into('fetch-new-server'), identity }),
      /manifest\.json\.age on .* gives the archive the sha256 [0-9a-f]{64}, its \.sha256 says/,
    );
  });

  it('an older copy put under a newer set\'s names, sidecars and all, is refused by the names inside them', async () => {
    const remote = `${sftp.name}:${path.join(sftp.dir, 'offsite/rollback')}`;
    const landed = path.join(sftp.dir, 'offsite/rollback');
    const backupDir = path.join(work, 'backup');
    await copyArchive({ rclone, target: remote, backupDir, file: FILE, recipients: [recipient] });
    const NEWER = FILE.replace('2026-11-21', '2026-11-22');
    const rename = async (rewrite: (text: string) => string) => {
      for (const suffix of ['.age', '.age.sha256', '.sha256', '.manifest.json.age']) {
        const text = await fs.readFile(path.join(landed, `${FILE}${suffix}`));
        await fs.writeFile(path.join(landed, `${NEWER}${suffix}`), suffix.endsWith('.sha256') ? rewrite(text.toString()) : text);
      }
      return (await listRemoteArchives(rclone, remote)).find((a) => a.file === NEWER)!;
    };
    const fetchDir = path.join(work, 'fetch-rollback');
    await fs.mkdir(fetchDir);
    // Copied over unchanged: the marker names the older object.
    await assert.rejects(
      fetchArchive({ rclone, target: remote, archive: await rename((t) => t), backupDir: fetchDir, identity }),
      new RegExp(`${NEWER}\\.age\\.sha256 on .* is the checksum of "${FILE}\\.age", not of ${NEWER}\\.age`),
    );
    // The plaintext checksum lines rewritten too: the encrypted manifest, which needs the key to change, names the older archive.
    await assert.rejects(
      fetchArchive({ rclone, target: remote, archive: await rename((t) => t.split(FILE).join(NEWER)), backupDir: fetchDir, identity }),
      new RegExp(`${NEWER}\\.manifest\\.json\\.age on .* belongs to "${FILE}", not to ${NEWER}`),
    );
    assert.deepEqual(await fs.readdir(fetchDir), [], 'nothing published');
  });

  it('a copy without its manifest is refused, saying that every copy has one', async () => {
    const remote = `${sftp.name}:${path.join(sftp.dir, 'offsite/no-manifest')}`;
    await copyArchive({ rclone, target: remote, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] });
    await fs.rm(path.join(sftp.dir, 'offsite/no-manifest', `${FILE}.manifest.json.age`));
    const archive = (await listRemoteArchives(rclone, remote)).find((a) => a.file === FILE)!;
    const fetchDir = path.join(work, 'fetch-no-manifest');
    await fs.mkdir(fetchDir);
    await assert.rejects(
      fetchArchive({ rclone, target: remote, archive, backupDir: fetchDir, identity }),
      /has no readable .*\.manifest\.json\.age \(every copy this service makes has one; restore this archive by hand/,
    );
  });

  it('a wrong identity is told as such (age\'s reason), never as the broken pipe it leaves', async () => {
    const remote = `${sftp.name}:${path.join(sftp.dir, 'offsite/wrong-key')}`;
    await copyArchive({ rclone, target: remote, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] });
    const archive = (await listRemoteArchives(rclone, remote)).find((a) => a.file === FILE)!;
    const other = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const fetchDir = path.join(work, 'fetch-wrong-key');
    await fs.mkdir(fetchDir);
    for (let i = 0; i < 5; i++) {
      const err = await fetchArchive({ rclone, target: remote, archive, backupDir: fetchDir, identity: other }).then(() => assert.fail('fetched with a wrong key'), (e: Error) => e);
      assert.match(err.message, /cannot be decrypted \(a wrong identity, or the copy is damaged or cut short\): age decryption: age exited with 1: .*no identity matched/);
      assert.doesNotMatch(err.message, /EPIPE|filippo\.io/);
    }
  });

  it('a damaged archive whose manifest decrypts is called damaged, not possibly a wrong identity', async () => {
    const dir = path.join(sftp.dir, 'offsite/damaged-header');
    const remote = `${sftp.name}:${dir}`;
    await copyArchive({ rclone, target: remote, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] });
    const archive = (await listRemoteArchives(rclone, remote)).find((a) => a.file === FILE)!;
    const fetchDir = path.join(work, 'fetch-damaged-header');
    await fs.mkdir(fetchDir);
    const object = path.join(dir, `${FILE}.age`);
    const good = await fs.readFile(object);
    // In age's header (its recipient stanza) and in the payload: age fails before the download's checksum is known.
    for (const at of [60, good.length >> 1]) {
      const bytes = Buffer.from(good);
      bytes[at] = bytes[at]! ^ 0xff;
      await fs.writeFile(object, bytes);
      const err = await fetchArchive({ rclone, target: remote, archive, backupDir: fetchDir, identity }).then(() => assert.fail('fetched a damaged copy'), (e: Error) => e);
      assert.match(err.message, /cannot be decrypted \(it is damaged, cut short or was replaced on the target \(the same identity decrypted the manifest of this copy\)\)/);
      assert.doesNotMatch(err.message, /wrong identity/);
      assert.deepEqual(await fs.readdir(fetchDir), [], 'nothing published');
    }
  });

  it("the README's emergency procedure by hand, its very lines, restores the volume from that copy", async () => {
    const dir = path.join(work, 'by-hand');
    const out = path.join(work, 'by-hand-volume');
    await fs.mkdir(dir);
    await fs.mkdir(out);
    const settings = { RCLONE_CONFIG: rclone.configFile, T: `${sftp.name}:${path.join(sftp.dir, 'offsite/practice')}`, KEY: path.join(work, 'key.txt'), E: '.age', V: 'lucindadata', DEST: out };
    execFileSync('bash', ['-c', procedureScript(settings, 'volume')], { cwd: dir, stdio: 'pipe' });
    const diff = execFileSync('diff', ['-r', path.join(work, 'vol'), out], { encoding: 'utf8' });
    assert.equal(diff, '');
  });

  it("the README's emergency procedure stops at a damaged copy by itself: nothing reaches DEST", async () => {
    // Its own `set -euo pipefail`, not the test's: the admin runs the block as it is.
    const damaged = path.join(sftp.dir, 'offsite/damaged-by-hand');
    await copyArchive({ rclone, target: `${sftp.name}:${damaged}`, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] });
    const object = path.join(damaged, `${FILE}.age`);
    const bytes = await fs.readFile(object);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff; // in the payload: the checksum fails, and age would fail only at that chunk
    await fs.writeFile(object, bytes);
    const dir = path.join(work, 'by-hand-damaged');
    const out = path.join(work, 'by-hand-damaged-volume');
    await fs.mkdir(dir);
    await fs.mkdir(out);
    const settings = { RCLONE_CONFIG: rclone.configFile, T: `${sftp.name}:${damaged}`, KEY: path.join(work, 'key.txt'), E: '.age', V: 'lucindadata', DEST: out };
    const run = spawnSync('bash', ['-c', procedureScript(settings, 'volume')], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(run.status, 0, 'the procedure went on past a failed check');
    assert.match(run.stdout, /FAILED/);
    assert.deepEqual(await fs.readdir(out), [], 'nothing of the damaged copy was extracted');
    assert.ok(!(await fs.readdir(path.join(dir, 'restore/lucindadata'))).includes(FILE), 'not even decrypted');
  });

  it('plain to WebDAV: the archive itself, checked by reading it back; progress from rclone\'s own count', async () => {
    const progress: [number, number][] = [];
    const r = await copyArchive({ rclone, target: `${dav.name}:plain`, backupDir: path.join(work, 'backup'), file: FILE, recipients: [], onProgress: (sent, total) => progress.push([sent, total]) });
    assert.equal(r.file, FILE);
    // rclone copyto reads the file itself; its JSON stats (the last one at its exit) are the job's progress.
    assert.deepEqual(progress.at(-1), [r.size, r.size]);
    assert.equal(r.verification, 'read-back', 'rclone serve webdav has no hashes');
    assert.deepEqual((await fs.readdir(path.join(dav.dir, 'plain'))).sort(), [FILE, `${FILE}.manifest.json`, `${FILE}.sha256`].sort());
    execFileSync('sha256sum', ['-c', `${FILE}.sha256`], { cwd: path.join(dav.dir, 'plain'), stdio: 'ignore' });
  });
});

describe('a copy that fails on the target', () => {
  it('takes away what it left there (a full disk left 0-byte objects that no retention removes)', async () => {
    const full = path.join(work, 'full-target');
    await fs.mkdir(full);
    // rclone's local backend on a directory with room for less than the archive (an audit used a
    // 2 MiB tmpfs; rclone preallocates, fails, and left the 0-byte object behind).
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]).status !== 0) return;
    try {
      await assert.rejects(copyArchive({ rclone, target: full, backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] }));
      await waitFor(async () => (await fs.readdir(full)).length === 0, 10_000, 'the incomplete copy removed');
    } finally {
      spawnSync('umount', [full]);
    }
  });
});

describe('verification of a remote object', () => {
  for (const which of ['sftp', 'webdav'] as const) {
    it(`detects a corrupted object (${which}), through the copy's daemon and through a process of its own`, async () => {
      const remote = which === 'sftp' ? sftp : dav;
      const local = path.join(work, 'backup', FILE);
      const object = `${remote.name}:${which === 'sftp' ? path.join(remote.dir, 'corrupt') : 'corrupt'}/x.age`;
      // SFTP checks with its own md5 (computed on the server), WebDAV by reading the object back.
      const check = which === 'sftp' ? ('md5' as const) : undefined;
      const daemon = await RcloneDaemon.start(rclone);
      try {
        const sent = await sendObject({ rclone, object, source: local, recipients: [recipient], remoteHashes: check ? [check] : [], daemon });
        const stored = path.join(remote.dir, 'corrupt', 'x.age');
        const good = await fs.readFile(stored);
        for (const via of [undefined, daemon]) {
          await fs.writeFile(stored, good);
          assert.equal((await verifyObject(rclone, object, sent, undefined, check, via)).method, check ?? 'read-back');
          const bytes = Buffer.from(good);
          bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01;
          await fs.writeFile(stored, bytes);
          await assert.rejects(verifyObject(rclone, object, sent, undefined, check, via), which === 'sftp' ? /the target's md5 .* differs/ : /read back/);
          await fs.truncate(stored, 100);
          await assert.rejects(verifyObject(rclone, object, sent, undefined, check, via), /has 100 bytes on the target/);
          await fs.rm(stored);
          // rclone lsjson of a missing object fails on its own ("directory not found"); rc's stat answers "no item".
          await assert.rejects(verifyObject(rclone, object, sent, undefined, check, via), via ? /is missing on the target/ : /directory not found/);
        }
      } finally {
        await daemon.close();
      }
    });
  }
});

describe("the copy's rclone daemon", () => {
  /** Our children whose command line holds `rclone rcd`. */
  async function daemons(): Promise<number[]> {
    const pids: number[] = [];
    for (const d of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const stat = await fs.readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = await fs.readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
      if (ppid === process.pid && cmdline.startsWith('rclone\0rcd\0')) pids.push(Number(d));
    }
    return pids;
  }

  it('listens on 127.0.0.1 only, lets nobody in without its password, which is in no command line, environment or file; gone with its files after close', async () => {
    const d = await RcloneDaemon.start(rclone);
    const pid = d.pid!;
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const htpasswd = argv[argv.indexOf('--rc-htpasswd') + 1]!;
    try {
      assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      for (const authorization of [undefined, `Basic ${Buffer.from('oob-backup:guessed').toString('base64')}`]) {
        const res = await fetch(`${d.url}config/dump`, { method: 'POST', headers: authorization ? { authorization } : {} });
        assert.equal(res.status, 401, `config/dump answered ${res.status} to ${authorization ?? 'no password'}`);
      }
      const environ = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
      assert.doesNotMatch(environ, /RCLONE_RC_(USER|PASS)/);
      assert.ok(!argv.some((a) => /^--rc-(user|pass)/.test(a)), argv.join(' '));
      // Only the password's SHA-1 is on disk, in a directory of its own that only we can read.
      assert.match(await fs.readFile(htpasswd, 'utf8'), /^oob-backup:\{SHA\}[A-Za-z0-9+/]{27}=\n$/);
      assert.equal((await fs.stat(path.dirname(htpasswd))).mode & 0o777, 0o700);
    } finally {
      await d.close();
    }
    assert.deepEqual(await daemons(), []);
    await assert.rejects(fs.stat(path.dirname(htpasswd)), { code: 'ENOENT' });
  });

  it('is limited on its uploads only: the download half of OFFSITE_BWLIMIT would throttle the encrypted archive it reads from the worker', async () => {
    const d = await RcloneDaemon.start({ ...rclone, bwlimit: '08:00,20M:64k 19:00,off' });
    try {
      const argv = (await fs.readFile(`/proc/${d.pid}/cmdline`, 'utf8')).split('\0');
      assert.equal(argv[argv.indexOf('--bwlimit') + 1], '08:00,20M 19:00,off');
    } finally {
      await d.close();
    }
  });

  it("ignores the environment's rclone logging and rc settings (its port is read from its log; it keeps its own password)", async () => {
    const set = { RCLONE_LOG_LEVEL: 'ERROR', RCLONE_QUIET: 'true', RCLONE_LOG_FILE: path.join(work, 'no-such-dir', 'rclone.log'), RCLONE_RC_NO_AUTH: 'true', RCLONE_RC_ADDR: '0.0.0.0:5572' };
    const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
    Object.assign(process.env, set);
    let d: RcloneDaemon | undefined;
    try {
      d = await RcloneDaemon.start(rclone);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    try {
      assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.equal((await fetch(`${d.url}config/dump`, { method: 'POST' })).status, 401);
    } finally {
      await d.close();
    }
  });

  it('a worker that dies (SIGKILL) takes its daemon with it; the next daemon removes the dead one\'s password directory', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../helpers/daemon-child.ts'), rclone.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    await new Promise((resolve) => child.once('close', resolve));
    assert.equal(child.signalCode, 'SIGKILL');
    const { pid, htpasswd } = JSON.parse(out) as { pid: number; htpasswd: string };
    // Gone, or a zombie waiting for whoever adopted it.
    const ended = async () => {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') || undefined;
    };
    await waitFor(ended, 10_000, 'the orphaned daemon to end');
    assert.ok(await fs.stat(htpasswd), 'a killed worker cannot remove its directory itself');
    const next = await RcloneDaemon.start(rclone);
    await next.close();
    await assert.rejects(fs.stat(path.dirname(htpasswd)), { code: 'ENOENT' });
  });

  for (const encrypted of [false, true]) {
    it(`an aborted copy ends its daemon; a copy that went through leaves none either (${encrypted ? 'encrypted' : 'plain'})`, async () => {
      const big = path.join(work, `abort-src-${encrypted}`);
      await fs.mkdir(big, { recursive: true });
      const file = 'big_2026-11-21-0315.tar.gz';
      await fs.writeFile(path.join(big, file), randomBytes(3 << 20));
      const recipients = encrypted ? [recipient] : [];
      const slow = { ...rclone, bwlimit: '512k' };
      const stop = new AbortController();
      const target = `${sftp.name}:${path.join(sftp.dir, `aborted-${encrypted}`)}`;
      const copy = copyArchive({ rclone: slow, target, backupDir: big, file, recipients, signal: stop.signal, onProgress: (sent) => sent > 0 && stop.abort() });
      await assert.rejects(copy);
      assert.equal(stop.signal.aborted, true, 'the copy failed before it was aborted');
      assert.deepEqual(await daemons(), [], 'a daemon outlived its copy');
      await copyArchive({ rclone, target, backupDir: big, file, recipients });
      assert.deepEqual(await daemons(), []);
    });
  }
});

describe('small files (sidecars, the marker) through the daemon', () => {
  it('go up without the target hashing them (on SFTP a shell command per file) and are read back byte for byte', async () => {
    // The same SFTP server, its hash commands leaving a trace: rclone's own check of an upload would run one.
    const trace = path.join(work, 'hash-asked');
    const section = sftp.section
      .replace('[sftptest]', '[sftptraced]')
      .replace(/^(md5sum|sha1sum)_command = (\w+)$/gm, `$1_command = touch ${trace} && $2`);
    const configFile = path.join(work, 'rclone-traced.conf');
    await fs.writeFile(configFile, section, { mode: 0o600 });
    const d = await RcloneDaemon.start({ configFile, secrets: await configSecrets(configFile) });
    try {
      const object = `sftptraced:${path.join(sftp.dir, 'small', 'x.tar.gz.sha256')}`;
      const body = Buffer.from(`${'ab'.repeat(32)}  x.tar.gz\n`);
      await d.upload(object, body);
      assert.ok((await fs.readFile(path.join(sftp.dir, 'small', 'x.tar.gz.sha256'))).equals(body));
      await assert.rejects(fs.stat(trace), { code: 'ENOENT' }, 'the upload asked the target for a hash');
      assert.ok((await d.readSmall(object, body.length)).equals(body));
      await assert.rejects(d.readSmall(object, body.length - 1), /has 75 bytes on the target, 74 were sent/);
      await assert.rejects(d.readSmall(`sftptraced:${path.join(sftp.dir, 'small', 'none')}`, 10), /is missing on the target/);
      // The trace works: the archive's own check asks the target for its hash.
      assert.match((await d.stat(object, 'sha1'))?.Hashes?.sha1 ?? '', /^[0-9a-f]{40}$/);
      await fs.stat(trace);
      // Nothing of the read-backs stays in the daemon's private directory.
      const argv = (await fs.readFile(`/proc/${d.pid}/cmdline`, 'utf8')).split('\0');
      assert.deepEqual(await fs.readdir(path.dirname(argv[argv.indexOf('--rc-htpasswd') + 1]!)), ['htpasswd']);
    } finally {
      await d.close();
    }
  });
});

describe('a target that is down', () => {
  it('fails the copy with rclone\'s reason and no secret of the config in it', async () => {
    const down = await startWebdavServer(path.join(work, 'down'), 'davdown');
    let configFile: string;
    try {
      configFile = await rcloneConfig(path.join(work, 'down.conf'), [down]);
    } finally {
      await down.stop();
    }
    const opts = { configFile, secrets: await configSecrets(configFile) };
    const err = await copyArchive({ rclone: opts, target: 'davdown:x', backupDir: path.join(work, 'backup'), file: FILE, recipients: [recipient] }).then(
      () => assert.fail('copy to a stopped server succeeded'),
      (e: Error) => e,
    );
    assert.match(err.message, /^(upload to|features of) davdown:x.*rclone exited with \d/);
    for (const s of down.secrets) assert.ok(!err.message.includes(s), 'a config value in the message');
  });

  it('a malformed recipient is refused before anything is uploaded', async () => {
    const bad = `age1${'q'.repeat(58)}`; // the form of a recipient, with a wrong checksum
    const daemon = await RcloneDaemon.start(rclone);
    const err = await sendObject({ rclone, object: `${sftp.name}:${path.join(sftp.dir, 'bad-age')}/x.age`, source: path.join(work, 'backup', FILE), recipients: [bad], daemon })
      .then(
        () => assert.fail('an upload with a malformed recipient succeeded'),
        (e: Error) => e,
      )
      .finally(() => daemon.close());
    assert.match(err.message, /^age recipient age1q{58} has a wrong checksum/);
    assert.equal(await fs.stat(path.join(sftp.dir, 'bad-age')).catch(() => undefined), undefined, 'rclone was started');
  });
});

describe('remote retention', () => {
  /** Plain copies of small stand-in archives of volume `ret` with these stamps. */
  async function copies(target: string, stamps: string[], opts: RcloneOptions = rclone) {
    const dir = path.join(work, 'ret-src');
    await fs.mkdir(dir, { recursive: true });
    for (const s of stamps) {
      const f = `ret_${s}.tar.gz`;
      await fs.writeFile(path.join(dir, f), `archive ${s}\n`);
      execSync(`sha256sum ${f} > ${f}.sha256`, { cwd: dir });
      await copyArchive({ rclone: opts, target, backupDir: dir, file: f, recipients: [] });
    }
  }
  const stamps = ['2026-11-27-0315', '2026-11-28-0315', '2026-11-29-0315', '2026-11-30-0315'];
  const NO_FLAGS = { threshold: 0.5, flaggedLocally: new Set<string>() };

  it('keep:2 removes the older copies with all their files; never removes none', async () => {
    await copies(`${dav.name}:ret`, stamps);
    assert.deepEqual(await applyRemoteRetention(rclone, `${dav.name}:ret`, 'ret', { kind: 'never' }, NO_FLAGS), { removed: [], refused: [], sizeDrops: [] });
    const r = await applyRemoteRetention(rclone, `${dav.name}:ret`, 'ret', { kind: 'keep', keep: 2 }, NO_FLAGS);
    assert.deepEqual(r, { removed: [`ret_${stamps[1]}.tar.gz`, `ret_${stamps[0]}.tar.gz`], refused: [], sizeDrops: [] });
    assert.deepEqual((await fs.readdir(path.join(dav.dir, 'ret'))).sort(), stamps.slice(2).flatMap((s) => [`ret_${s}.tar.gz`, `ret_${s}.tar.gz.sha256`]).sort());
  });

  it("the copies of a wiped volume (a size drop on the target, or flagged locally) do not push the good copies out", async () => {
    // Three nights of a full volume, then three of a wiped one (a disk not mounted, or a new, empty
    // server writing to the same target: it has no earlier archive of its own to compare with).
    const target = `${dav.name}:wiped`;
    const dir = path.join(work, 'wiped-src');
    await fs.mkdir(dir, { recursive: true });
    const nights = ['2026-11-25-0315', '2026-11-26-0315', '2026-11-27-0315', '2026-11-28-0315', '2026-11-29-0315', '2026-11-30-0315'];
    for (const [i, s] of nights.entries()) {
      const f = `wiped_${s}.tar.gz`;
      await fs.writeFile(path.join(dir, f), i < 3 ? randomBytes(20_000) : 'empty volume\n');
      execSync(`sha256sum ${f} > ${f}.sha256`, { cwd: dir });
      await copyArchive({ rclone, target, backupDir: dir, file: f, recipients: [] });
    }
    const r = await applyRemoteRetention(rclone, target, 'wiped', { kind: 'keep', keep: 2 }, NO_FLAGS);
    assert.deepEqual(r.sizeDrops, nights.slice(3).map((s) => `wiped_${s}.tar.gz`));
    assert.deepEqual(r.removed, [`wiped_${nights[0]}.tar.gz`], 'only the good copies beyond keep');
    const left = (await fs.readdir(path.join(dav.dir, 'wiped'))).filter((n) => n.endsWith('.tar.gz')).sort();
    assert.deepEqual(left, nights.slice(1).map((s) => `wiped_${s}.tar.gz`));
    // Flagged by the local listing (e.g. by entries, in incremental mode): not counted either.
    const flagged = await applyRemoteRetention(rclone, target, 'wiped', { kind: 'keep', keep: 1 }, { threshold: 0, flaggedLocally: new Set(nights.slice(3).map((s) => `wiped_${s}.tar.gz`)) });
    assert.deepEqual(flagged.removed, [`wiped_${nights[1]}.tar.gz`]);
  });

  it('a copy of an archive flagged for a size drop carries a mark that the target\'s retention reads without the local flag (after a disaster, or once pruned here)', async () => {
    // Incremental nights of a wiped volume are small either way: only the local manifest knew them.
    // An audit's new server, restoring one point from a keep:3 target, deleted that point's chain.
    const target = `${dav.name}:marked`;
    const dir = path.join(work, 'marked-src');
    await fs.mkdir(dir, { recursive: true });
    const nights = ['2026-11-27-0315', '2026-11-28-0315', '2026-11-29-0315', '2026-11-30-0315'];
    for (const [i, s] of nights.entries()) {
      const f = `marked_${s}.tar.gz`;
      await fs.writeFile(path.join(dir, f), `archive ${s}\n`);
      execSync(`sha256sum ${f} > ${f}.sha256`, { cwd: dir });
      const sizeDrop = i >= 2 ? { previousFile: `marked_${nights[1]}.tar.gz`, previousSize: 1000, ratio: 0.01, measure: 'entries' } : undefined;
      await fs.writeFile(path.join(dir, `${f}.manifest.json`), JSON.stringify({ tool: 'oob-backup', file: f, ...(sizeDrop ? { sizeDrop } : {}) }));
      await copyArchive({ rclone, target, backupDir: dir, file: f, recipients: [recipient] });
    }
    const onTarget = await fs.readdir(path.join(dav.dir, 'marked'));
    assert.deepEqual(onTarget.filter((n) => n.endsWith('.sizedrop')).sort(), nights.slice(2).map((s) => `marked_${s}.tar.gz.sizedrop`));
    assert.doesNotMatch(await fs.readFile(path.join(dav.dir, 'marked', `marked_${nights[3]}.tar.gz.sizedrop`), 'utf8'), /archive/, 'no content of the archive');
    // No local flags at all (a new server): the marked copies still do not count as generations.
    const r = await applyRemoteRetention(rclone, target, 'marked', { kind: 'keep', keep: 1 }, { threshold: 0.5, flaggedLocally: new Set() });
    assert.deepEqual(r.sizeDrops, nights.slice(2).map((s) => `marked_${s}.tar.gz`));
    assert.deepEqual(r.removed, [`marked_${nights[0]}.tar.gz`], 'the newest good copy stays');
    assert.ok(!(await fs.readdir(path.join(dav.dir, 'marked'))).some((n) => n.startsWith(`marked_${nights[0]}`)), 'a removed copy goes with its mark and sidecars');
  });

  it('a server that refuses deletes: reported per copy, nothing thrown, every copy still complete', async () => {
    const locked = await startSftpServer(path.join(work, 'locked'), 'locked', { appendOnly: true });
    try {
      const configFile = await rcloneConfig(path.join(work, 'locked.conf'), [locked]);
      const opts = { configFile, secrets: await configSecrets(configFile) };
      const target = `locked:${path.join(locked.dir, 'ret')}`;
      await copies(target, stamps.slice(0, 3), opts);
      const r = await applyRemoteRetention(opts, target, 'ret', { kind: 'keep', keep: 1 }, NO_FLAGS).catch((e: Error) => assert.fail(e.message));
      assert.deepEqual(r.removed, []);
      assert.equal(r.refused.length, 2);
      assert.match(r.refused[0]!.error, /delete of locked:.*rclone exited/);
      assert.equal((await fs.readdir(path.join(locked.dir, 'ret'))).length, 6, 'three copies, each with its marker');
    } finally {
      await locked.stop();
    }
  });
});

describe('decryption', () => {
  it('decryptStream reads what age -r wrote; a wrong identity fails without showing it', async () => {
    const plain = Buffer.from('Patientendaten\n'.repeat(10_000));
    const cipher = execFileSync('age', ['-r', recipient], { input: plain });
    const run = async (key: string) => {
      const age = await decryptStream(key);
      const chunks: Buffer[] = [];
      age.stdout.on('data', (c: Buffer) => chunks.push(c));
      age.stdin.on('error', () => undefined);
      age.stdin.end(cipher);
      await age.done;
      return Buffer.concat(chunks);
    };
    assert.ok((await run(identity)).equals(plain));
    const other = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const err = await run(other).then(() => assert.fail('decrypted with the wrong key'), (e: Error) => e);
    assert.match(err.message, /age decryption: age exited with 1/);
    assert.ok(!err.message.includes(other.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!));
  });
});

describe('sizes', () => {
  it('encryptedSize is what `age -r` writes, for one and three recipients', async () => {
    const more = [recipient, ...[1, 2].map(() => /public key: (age1\S+)/.exec(execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]!)];
    for (const n of [0, 1, 65535, 65536, 65537, 200_000]) {
      for (const rs of [[recipient], more]) {
        const out = execFileSync('age', rs.flatMap((r) => ['-r', r]), { input: Buffer.alloc(n) });
        assert.equal(encryptedSize(n, rs.length), out.length, `${n} bytes to ${rs.length} recipients`);
      }
    }
  });

  it('lsjson of a missing directory is an error, not an empty target', async () => {
    await assert.rejects(lsjson(rclone, `${dav.name}:does-not-exist`), /listing of/);
  });
});

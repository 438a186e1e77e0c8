/**
 * A copy already complete on a target, found and checked before anything is uploaded
 * (src/engine/offsite/find-copy.ts), against a real SFTP server (sshd; it hashes objects with
 * md5sum/sha1sum, not sha256): a plain copy is held against the target's own sha1 of the local file
 * (no download), an encrypted one read back against its marker; a copy that differs in any way the
 * copy job's rules see is no copy.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyArchive } from '../../src/engine/offsite/copy-archive.js';
import { findCopy } from '../../src/engine/offsite/find-copy.js';
import { configSecrets, type RcloneOptions } from '../../src/engine/offsite/rclone.js';
import { rcloneConfig, startSftpServer, type TestRemote } from '../helpers/offsite-servers.js';

const FILE = 'pacsdata_2030-06-12-0315.tar.gz';
let work = '';
let backupDir = '';
let sftp: TestRemote;
let rclone: RcloneOptions;
const recipients: string[] = [];

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-find-copy-'));
  sftp = await startSftpServer(work);
  const configFile = await rcloneConfig(path.join(work, 'rclone.conf'), [sftp]);
  rclone = { configFile, secrets: await configSecrets(configFile) };
  for (let i = 0; i < 2; i++) recipients.push(/public key: (age1\S+)/.exec(execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]!);
  const vol = path.join(work, 'vol');
  await fs.mkdir(vol);
  await fs.writeFile(path.join(vol, 'image.dcm'), execFileSync('head', ['-c', '200000', '/dev/urandom']));
  backupDir = path.join(work, 'backup');
  await fs.mkdir(backupDir);
  execFileSync('tar', ['-C', vol, '-czf', path.join(backupDir, FILE), '.']);
  execSync(`sha256sum ${FILE} > ${FILE}.sha256`, { cwd: backupDir });
  const sha256 = execFileSync('sha256sum', [path.join(backupDir, FILE)], { encoding: 'utf8' }).slice(0, 64);
  await fs.writeFile(path.join(backupDir, `${FILE}.manifest.json`), JSON.stringify({ tool: 'oob-backup', file: FILE, sha256, entries: 2, entryDigest: 'x' }));
});

after(async () => {
  await sftp?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

const target = (dir: string) => `${sftp.name}:${path.join(sftp.dir, dir)}`;

describe('a copy found on the target', () => {
  it('plain: found by the target\'s own sha1 of the local file, with what the record needs', async () => {
    const sent = await copyArchive({ rclone, target: target('plain'), backupDir, file: FILE, recipients: [] });
    const r = await findCopy({ rclone, target: target('plain'), backupDir, file: FILE, recipients: [] });
    assert.ok('found' in r, JSON.stringify(r));
    assert.equal(r.found.verification, 'sha1', 'no download');
    assert.deepEqual({ ...r.found, modTime: undefined }, { ...sent, modTime: undefined });
  });

  it('plain, the object changed on the target (same size): no copy', async () => {
    const object = path.join(sftp.dir, 'plain', FILE);
    const bytes = await fs.readFile(object);
    bytes[1000] = bytes[1000]! ^ 0x01;
    await fs.writeFile(object, bytes);
    const r = await findCopy({ rclone, target: target('plain'), backupDir, file: FILE, recipients: [] });
    assert.ok('mismatch' in r && /the target's sha1 .* differs/.test(r.mismatch), JSON.stringify(r));
  });

  it('encrypted: read back against its marker, the sha1 taken on the way; other recipients (another size) are no copy', async () => {
    const sent = await copyArchive({ rclone, target: target('enc'), backupDir, file: FILE, recipients });
    const r = await findCopy({ rclone, target: target('enc'), backupDir, file: FILE, recipients });
    assert.ok('found' in r, JSON.stringify(r));
    assert.equal(r.found.verification, 'read-back');
    assert.deepEqual([r.found.size, r.found.sha256, r.found.sha1, r.found.check], [sent.size, sent.sha256, sent.sha1, 'sha1']);
    const other = await findCopy({ rclone, target: target('enc'), backupDir, file: FILE, recipients: recipients.slice(0, 1) });
    assert.ok('mismatch' in other && /bytes/.test(other.mismatch), JSON.stringify(other));
  });

  it('encrypted, the plaintext checksum beside it is another archive\'s: no copy', async () => {
    const sidecar = path.join(sftp.dir, 'enc', `${FILE}.sha256`);
    await fs.writeFile(sidecar, `${'0'.repeat(64)}  ${FILE}\n`);
    const r = await findCopy({ rclone, target: target('enc'), backupDir, file: FILE, recipients });
    assert.ok('mismatch' in r && /the archive here has/.test(r.mismatch), JSON.stringify(r));
  });

  it('without its completion marker the object is absent (an upload cut short)', async () => {
    await fs.rm(path.join(sftp.dir, 'enc', `${FILE}.age.sha256`));
    assert.deepEqual(await findCopy({ rclone, target: target('enc'), backupDir, file: FILE, recipients }), { absent: true });
  });
});

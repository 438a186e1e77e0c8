/**
 * Brings one archive back from a target into BACKUP_DIR (the disaster case: a new server, an empty
 * BACKUP_DIR): `rclone cat` → sha256 of what arrives (held against the copy's `.sha256` marker) →
 * `age -d` with the identity (when encrypted) → sha256 of the archive (held against its own
 * `.sha256` sidecar) → `<file>.partial`, fsynced, then published under its final name with its
 * sidecars. Any difference fails, removes the partial and publishes nothing; the archive is then
 * verified again by the restore, like any local archive, before live data is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { completionMarker, remoteManifestName, type RemoteArchive } from '../../core/offsite-names.js';
import { createNewFileStream } from '../fs/atomic.js';
import { publish, type Sidecar } from '../fs/publish.js';
import { decryptStream } from './age.js';
import { DigestTap } from './digest-tap.js';
import { cat, remotePath, type RcloneOptions } from './rclone.js';

export interface FetchOptions {
  rclone: RcloneOptions;
  target: string;
  archive: RemoteArchive;
  backupDir: string;
  /** The text of an age identity file; required for an encrypted copy. */
  identity?: string;
  signal?: AbortSignal;
  onProgress?: (received: number) => void;
  /**
   * The sha256 this server recorded for the object when it uploaded it, if it still knows it: the
   * target's own sidecars can be rewritten by whoever can write there, this record cannot.
   */
  recordedSha256?: string;
}

export async function fetchArchive(o: FetchOptions): Promise<{ file: string; size: number; sha256: string }> {
  const { archive } = o;
  if (archive.encrypted && !o.identity) {
    throw new Error(`${archive.object} on ${o.target} is encrypted: give the age identity with the confirmation (ageIdentity) or set OFFSITE_AGE_IDENTITY_FILE`);
  }
  const objectSha = sha256Of(await readText(o, completionMarker(archive.file, archive.encrypted)), completionMarker(archive.file, archive.encrypted));
  if (o.recordedSha256 !== undefined && o.recordedSha256 !== objectSha) {
    throw new Error(`${archive.object} on ${o.target} is not the copy this server uploaded: its sha256 differs from the one recorded when it was copied (replaced on the target?)`);
  }
  const plainSidecar = await readText(o, `${archive.file}.sha256`);
  const plainSha = sha256Of(plainSidecar, `${archive.file}.sha256`);
  const manifest = await readObject(o, remoteManifestName(archive.file, archive.encrypted)).catch(() => undefined);

  const finalPath = path.join(o.backupDir, archive.file);
  const partial = `${finalPath}.partial`;
  const received = new DigestTap(o.onProgress);
  const written = new DigestTap();
  const download = cat(o.rclone, remotePath(o.target, archive.object), o.signal);
  let out: fs.WriteStream | undefined;
  try {
    out = await createNewFileStream(partial);
    if (archive.encrypted) {
      const age = await decryptStream(o.identity!, o.signal);
      try {
        await Promise.all([pipeline(download.stdout, received, age.stdin), pipeline(age.stdout, written, out), age.done, download.done]);
      } finally {
        age.kill();
      }
    } else {
      await Promise.all([pipeline(download.stdout, received, written, out), download.done]);
    }
    if (received.digests().sha256 !== objectSha) throw new Error(`${archive.object} on ${o.target} does not match its checksum ${completionMarker(archive.file, archive.encrypted)}: damaged on the target or in transit`);
    if (written.digests().sha256 !== plainSha) throw new Error(`${archive.file} from ${o.target} does not match its .sha256 after decryption`);
    const fh = await fs.promises.open(partial, 'r+');
    await fh.sync().finally(() => fh.close());
    const sidecars: Sidecar[] = [{ suffix: '.sha256', content: plainSidecar }];
    if (manifest !== undefined) sidecars.push({ suffix: '.manifest.json', content: manifest });
    await publish({ partial, finalPath, sidecars });
    return { file: archive.file, size: written.digests().size, sha256: plainSha };
  } catch (err) {
    download.kill();
    out?.destroy(); // not yet in a pipeline when the decryptor failed to start
    await fs.promises.rm(partial, { force: true });
    throw err;
  }
}

function sha256Of(sidecar: string, name: string): string {
  const m = /^([0-9a-f]{64})\s/.exec(sidecar);
  if (!m) throw new Error(`${name} on the target is not a sha256sum line`);
  return m[1]!;
}

async function readText(o: FetchOptions, name: string): Promise<string> {
  return readObject({ ...o, identity: undefined }, name);
}

/** A small object (a sidecar), decrypted when its name ends in .age. */
async function readObject(o: FetchOptions, name: string): Promise<string> {
  const download = cat(o.rclone, remotePath(o.target, name), o.signal);
  const chunks: Buffer[] = [];
  if (name.endsWith('.age')) {
    if (!o.identity) throw new Error(`${name} is encrypted and no identity was given`);
    const age = await decryptStream(o.identity, o.signal);
    age.stdout.on('data', (c: Buffer) => chunks.push(c));
    await Promise.all([pipeline(download.stdout, age.stdin), age.done, download.done]);
  } else {
    download.stdout.on('data', (c: Buffer) => chunks.push(c));
    await download.done;
  }
  return Buffer.concat(chunks).toString('utf8');
}

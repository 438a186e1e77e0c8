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
import type { Child } from './child.js';
import { DigestTap } from './digest-tap.js';
import { checkCopyManifest, checksumFor } from './copy-sidecars.js';
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
  const where = o.target;
  const marker = completionMarker(archive.file, archive.encrypted);
  const objectSha = checksumFor(await readSidecar(o, marker), marker, archive.object, where);
  if (o.recordedSha256 !== undefined && o.recordedSha256 !== objectSha) {
    throw new Error(`${archive.object} on ${o.target} is not the copy this server uploaded: its sha256 differs from the one recorded when it was copied (replaced on the target?)`);
  }
  const plainSidecar = await readSidecar(o, `${archive.file}.sha256`);
  const plainSha = checksumFor(plainSidecar, `${archive.file}.sha256`, archive.file, where);
  const manifestName = remoteManifestName(archive.file, archive.encrypted);
  const manifest = await readSidecar(o, manifestName, 'every copy this service makes has one; restore this archive by hand (README, "Emergency procedure") only if you trust it');
  checkCopyManifest(manifest, manifestName, archive.file, plainSha, archive.kind, where);

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
        // The manifest of this very copy has just decrypted with this identity: the identity is right.
        await settleDecryption(download, age, [pipeline(download.stdout, received, age.stdin), pipeline(age.stdout, written, out)], archive.object, where, o.signal, true);
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
    sidecars.push({ suffix: '.manifest.json', content: manifest });
    await publish({ partial, finalPath, sidecars });
    return { file: archive.file, size: written.digests().size, sha256: plainSha };
  } catch (err) {
    download.kill();
    out?.destroy(); // not yet in a pipeline when the decryptor failed to start
    await fs.promises.rm(partial, { force: true });
    throw err;
  }
}

/**
 * A sidecar of the copy, decrypted when its name ends in .age; a missing or unreadable one is said
 * in words (`why`: what its absence means), not only by rclone's exit code.
 */
async function readSidecar(o: FetchOptions, name: string, why = 'nothing was fetched'): Promise<string> {
  try {
    return await readObject(o, name);
  } catch (err) {
    if (err instanceof DecryptionFailed) throw err;
    throw new Error(`the copy of ${o.archive.file} on ${o.target} has no readable ${name} (${why}): ${(err as Error).message}`, { cause: err });
  }
}

class DecryptionFailed extends Error {}

/**
 * Waits for a download through age and the pipes around it, and when something failed, throws the
 * failure that explains it rather than one it caused: a download that failed on its own (a missing
 * object, the network) starves age, which then fails too; a pipe that failed on its own (a full
 * disk) stops age; age failing (a wrong identity, a damaged or cut copy) breaks the pipe into it
 * and the download behind it, and that EPIPE often settles first.
 */
async function settleDecryption(download: Child, age: Child, pipes: Promise<unknown>[], object: string, where: string, signal?: AbortSignal, identityOpenedCopy = false): Promise<void> {
  // Once age has failed, nothing more needs downloading (a stalled download would not notice soon).
  age.done.catch(() => download.kill());
  const [d, a, ...p] = await Promise.allSettled([download.done, age.done, ...pipes]);
  if (d!.status === 'fulfilled' && a!.status === 'fulfilled' && p.every((r) => r.status === 'fulfilled')) return;
  signal?.throwIfAborted(); // stopped on purpose: that, not what the stop broke, is the reason
  // rclone's own exit when age stopped reading: its stdout (a socket, as Node makes stdio pipes)
  // reset under it, "write /dev/stdout: connection reset by peer" (seen when age failed mid-payload).
  const starvedOf = (e: unknown) => a!.status === 'rejected' && /write \/dev\/stdout: (connection reset by peer|broken pipe)/i.test((e as Error)?.message ?? '');
  if (d!.status === 'rejected' && !['SIGPIPE', 'SIGTERM'].includes(download.proc.signalCode ?? '') && !starvedOf(d.reason)) throw d.reason;
  const brokenByAge = (e: NodeJS.ErrnoException) => e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE';
  const own = p.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !brokenByAge(r.reason as NodeJS.ErrnoException));
  if (own) throw own.reason;
  if (a!.status === 'rejected') {
    // An admin told "a wrong identity, or …" in a disaster goes looking for another key; when the
    // same identity opened another object of this copy, the key is not what is wrong.
    const why = identityOpenedCopy
      ? 'it is damaged, cut short or was replaced on the target (the same identity decrypted the manifest of this copy)'
      : 'a wrong identity, or the copy is damaged or cut short';
    throw new DecryptionFailed(`${object} from ${where} cannot be decrypted (${why}): ${(a.reason as Error).message}`, { cause: a.reason });
  }
  const other = [d, ...p].find((r): r is PromiseRejectedResult => r!.status === 'rejected');
  if (other) throw other.reason;
}

/** A small object (a sidecar), decrypted when its name ends in .age. */
async function readObject(o: FetchOptions, name: string): Promise<string> {
  const download = cat(o.rclone, remotePath(o.target, name), o.signal);
  const chunks: Buffer[] = [];
  if (name.endsWith('.age')) {
    if (!o.identity) throw new Error(`${name} is encrypted and no identity was given`);
    const age = await decryptStream(o.identity, o.signal);
    age.stdout.on('data', (c: Buffer) => chunks.push(c));
    await settleDecryption(download, age, [pipeline(download.stdout, age.stdin)], name, o.target, o.signal);
  } else {
    download.stdout.on('data', (c: Buffer) => chunks.push(c));
    await download.done;
  }
  return Buffer.concat(chunks).toString('utf8');
}

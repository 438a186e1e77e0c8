/**
 * A copy of a local archive that is already complete on a target, found there and checked before
 * anything is uploaded (the copy job asks, ../../jobs/copy-job.ts): after Redis lost its records, a
 * copy job queued again must not send hours of data that the target holds. A copy counts only as
 * far as the copy job's own rules go, against the archive in BACKUP_DIR:
 * - its completion marker is there and names the object (`<object>.sha256`, written last);
 * - plain: the object has the archive's size, and the marker the archive's sha256 (its `.sha256`);
 * - encrypted: the object has exactly the size age gives the archive for today's recipients, the
 *   plaintext checksum beside it (`<file>.sha256`) names the archive and has its sha256, and its
 *   encrypted manifest is there;
 * - the object holds the bytes the marker names: the target's own hash when it computes one this
 *   process can hold it against (plain: md5/sha1/sha256 of the local file; encrypted: sha256),
 *   else the object read back (downloaded, not uploaded) and hashed here.
 * What no check without the private key can tell: that the ciphertext decrypts to this archive
 * (README "Off-site copies": whoever can write to a target can encrypt to the public key).
 * Anything that does not match is no copy: the caller uploads over it.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { completionMarker, remoteManifestName, remoteObjectName } from '../../core/offsite-names.js';
import { encryptedSize } from './age-encrypt.js';
import { checksumFor } from './copy-sidecars.js';
import { DigestTap, type Digests } from './digest-tap.js';
import { backendHashes, cat, lsjson, remotePath } from './rclone.js';
import { remoteCheck, verifyObject } from './send.js';
import { readSidecarSha256 } from '../verify/archive-verification.js';
import type { CopyArchiveOptions, CopyResult } from './copy-archive.js';

/** The same archive and target as a copy of it (./copy-archive.ts), without an upload's progress. */
export type FindCopyOptions = Omit<CopyArchiveOptions, 'onProgress'>;

export type FoundCopy =
  | { found: CopyResult & { modTime: string } }
  | { absent: true }
  /** Something is there, but it is no copy of this archive: why. */
  | { mismatch: string };

export async function findCopy(o: FindCopyOptions): Promise<FoundCopy> {
  const encrypted = o.recipients.length > 0;
  const name = remoteObjectName(o.file, encrypted);
  const marker = completionMarker(o.file, encrypted);
  const local = path.join(o.backupDir, o.file);
  const localSha256 = await readSidecarSha256(local);
  if (!localSha256) return { absent: true }; // nothing to hold a copy against: the upload checks the file
  const entries = new Map((await lsjson(o.rclone, o.target, { signal: o.signal })).map((e) => [e.Name, e]));
  const object = entries.get(name);
  if (!object || !entries.has(marker)) return { absent: true };
  const plainSize = (await fs.stat(local)).size;
  const size = encrypted ? encryptedSize(plainSize, o.recipients.length) : plainSize;
  if (object.Size !== size) return { mismatch: `${name} on ${o.target} has ${object.Size} bytes, a copy of ${o.file} has ${size}` };
  const sidecars = await checkSidecars(o, encrypted, entries, localSha256);
  if ('problem' in sidecars) return { mismatch: sidecars.problem };
  const { objectSha256 } = sidecars;
  const check = remoteCheck(await backendHashes(o.rclone, o.target, o.signal));
  let digests: Digests;
  let method: CopyResult['verification'];
  try {
    if (!encrypted) {
      // The object is the local file: its hashes are computed here, the target holds its own against them.
      digests = await hashLocal(local, check?.extra ?? [], o.signal);
      if (digests.sha256 !== localSha256) return { mismatch: `${o.file} here no longer has the sha256 of its .sha256` };
      method = (await verifyObject(o.rclone, remotePath(o.target, name), digests, o.signal, check?.type)).method;
    } else if (check?.type === 'sha256') {
      digests = { size, sha256: objectSha256, md5: '', sha1: '' };
      method = (await verifyObject(o.rclone, remotePath(o.target, name), digests, o.signal, 'sha256')).method;
    } else {
      // Read back once, with the target's own hash type too, so that later verifications need no download.
      digests = await hashRemote(o, name, check?.extra ?? []);
      if (digests.size !== size || digests.sha256 !== objectSha256) {
        return { mismatch: `${name} on ${o.target}: read back ${digests.size} bytes with sha256 ${digests.sha256}, its ${marker} says ${objectSha256}` };
      }
      method = 'read-back';
    }
  } catch (err) {
    if (o.signal?.aborted) throw err;
    return { mismatch: (err as Error).message };
  }
  return {
    found: { target: o.target, file: name, size, sha256: digests.sha256, encrypted, verification: method, md5: digests.md5, sha1: digests.sha1, check: check?.type ?? null, modTime: object.ModTime },
  };
}

/**
 * The sidecars of a copy as the copy job leaves them and a restore from the target needs them (it
 * refuses a copy without them): the completion marker naming the object (its sha256 is returned),
 * the manifest when the local archive has one, and for an encrypted copy the plaintext checksum
 * naming the archive with `localSha256`; for a plain copy the marker's sha256 is the archive's.
 * The scheduled check of copies holds them too (../../jobs/copy-check.ts): an audit found a copy
 * without its manifest or marker reported good, which a restore then refused.
 */
export async function checkSidecars(
  o: Pick<FindCopyOptions, 'rclone' | 'target' | 'file' | 'backupDir' | 'signal'>,
  encrypted: boolean,
  entries: ReadonlyMap<string, unknown>,
  localSha256: string,
): Promise<{ objectSha256: string } | { problem: string }> {
  const name = remoteObjectName(o.file, encrypted);
  const marker = completionMarker(o.file, encrypted);
  const where = o.target;
  if (!entries.has(marker)) return { problem: `${name} on ${where} has no completion marker ${marker}` };
  let objectSha256: string;
  try {
    objectSha256 = checksumFor(await readSmall(o, marker), marker, name, where);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  // Every copy this service makes carries the archive's manifest (when the archive has one).
  const hasManifest = (await fs.stat(`${path.join(o.backupDir, o.file)}.manifest.json`).catch(() => undefined))?.isFile() ?? false;
  if (hasManifest && !entries.has(remoteManifestName(o.file, encrypted))) return { problem: `${name} on ${where} has no manifest beside it` };
  if (encrypted) {
    const plainSidecar = `${o.file}.sha256`;
    if (!entries.has(plainSidecar)) return { problem: `${name} on ${where} has no ${plainSidecar} beside it` };
    try {
      const theirs = checksumFor(await readSmall(o, plainSidecar), plainSidecar, o.file, where);
      if (theirs !== localSha256) return { problem: `${plainSidecar} on ${where} gives ${theirs}, the archive here has ${localSha256}` };
    } catch (err) {
      return { problem: (err as Error).message };
    }
  } else if (objectSha256 !== localSha256) {
    return { problem: `${marker} on ${where} gives ${objectSha256}, the archive here has ${localSha256}` };
  }
  return { objectSha256 };
}

async function readSmall(o: Pick<FindCopyOptions, 'rclone' | 'target' | 'signal'>, name: string): Promise<string> {
  const download = cat(o.rclone, remotePath(o.target, name), o.signal);
  const chunks: Buffer[] = [];
  let size = 0;
  download.stdout.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= 64 * 1024) chunks.push(c);
  });
  await download.done;
  return Buffer.concat(chunks).toString('utf8');
}

/** The end of a hashing pipeline: the bytes are only counted and hashed by the tap before it. */
async function discard(chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of chunks) void _;
}

async function hashLocal(file: string, also: readonly ('md5' | 'sha1')[], signal?: AbortSignal): Promise<Digests> {
  const tap = new DigestTap(undefined, also);
  await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), tap, discard, { signal });
  return tap.digests();
}

async function hashRemote(o: FindCopyOptions, name: string, also: readonly ('md5' | 'sha1')[]): Promise<Digests> {
  const download = cat(o.rclone, remotePath(o.target, name), o.signal);
  const tap = new DigestTap(undefined, also);
  await Promise.all([
    pipeline(download.stdout as Readable, tap, discard, { signal: o.signal }),
    download.done,
  ]);
  return tap.digests();
}

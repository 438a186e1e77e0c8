/**
 * One object to a target, streamed: file → (age) → digests → `rclone rcat`. No temp file and
 * bounded memory: `pipeline` moves 64 KiB chunks and waits whenever age or rclone (or the uplink
 * behind it, with --bwlimit) is slower than the disk. The digests are of the bytes rclone was
 * given, i.e. of the object as it must be on the remote.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { encryptedSize, encryptStream } from './age.js';
import { DigestTap, type Digests } from './digest-tap.js';
import { cat, lsjson, rcat, type RcloneOptions } from './rclone.js';

export interface SendOptions {
  rclone: RcloneOptions;
  /** The object's rclone path (remotePath(target, name)). */
  object: string;
  /** Local file to send. */
  source: string;
  /** age recipients; empty = the object is the plain file. */
  recipients: readonly string[];
  /** sha256 the local file must have (its sidecar): a file changed since it was verified fails the upload. */
  sourceSha256?: string;
  /** Hash types to compute besides sha256, for the target to check (remoteCheck). */
  remoteHashes?: readonly ('md5' | 'sha1')[];
  signal?: AbortSignal;
  onProgress?: (sent: number, total: number) => void;
}

/** The one hash the target computes itself that a copy is checked with: sha256, else sha1, else md5; none: read back. */
export function remoteCheck(backendHashes: readonly string[]): { type: 'sha256' | 'sha1' | 'md5'; extra: ('md5' | 'sha1')[] } | undefined {
  for (const type of ['sha256', 'sha1', 'md5'] as const) {
    if (backendHashes.includes(type)) return { type, extra: type === 'sha256' ? [] : [type] };
  }
  return undefined;
}

export async function sendObject(o: SendOptions): Promise<Digests> {
  const plainSize = (await fs.promises.stat(o.source)).size;
  const size = o.recipients.length > 0 ? encryptedSize(plainSize, o.recipients.length) : plainSize;
  const upload = rcat(o.rclone, o.object, size, o.signal);
  const tap = new DigestTap((n) => o.onProgress?.(n, size), o.remoteHashes);
  const input = fs.createReadStream(o.source, { highWaterMark: 256 * 1024 });
  const plain = new DigestTap();
  try {
    if (o.recipients.length > 0) {
      const age = encryptStream(o.recipients, o.signal);
      try {
        await Promise.all([pipeline(input, plain, age.stdin), pipeline(age.stdout, tap, upload.stdin), age.done, upload.done]);
      } finally {
        age.kill();
      }
    } else {
      await Promise.all([pipeline(input, tap, upload.stdin), upload.done]);
    }
  } catch (err) {
    upload.kill();
    // The process's own message (exit code, stderr) says more than a broken pipe.
    const reason = await upload.done.then(() => undefined, (e: Error) => e);
    throw reason ?? err;
  }
  const sent = tap.digests();
  const read = o.recipients.length > 0 ? plain.digests().sha256 : sent.sha256;
  if (o.sourceSha256 !== undefined && read !== o.sourceSha256) {
    throw new Error(`${o.source} changed since it was verified (sha256 ${read}, its sidecar says ${o.sourceSha256}): the copy on the target is not valid`);
  }
  if (sent.size !== size) throw new Error(`upload to ${o.object}: sent ${sent.size} bytes, expected ${size}`);
  return sent;
}

export interface Verification {
  /** How the remote object was checked: its own hash of that type, or by reading it back. */
  method: 'md5' | 'sha1' | 'sha256' | 'read-back';
}

/**
 * Holds the remote object against what was sent: its size, then a hash the remote computes itself
 * when the backend has one in common with us, else the object read back and hashed here. Throws
 * on any difference, naming it.
 */
export async function verifyObject(rclone: RcloneOptions, object: string, expected: Pick<Digests, 'size' | 'sha256'> & Partial<Digests>, signal?: AbortSignal, check?: 'sha256' | 'sha1' | 'md5'): Promise<Verification> {
  // One hash type at most: a backend may compute each one it is asked for by reading the object.
  const [entry] = await lsjson(rclone, object, { hashTypes: check && expected[check] ? [check] : [], signal });
  if (!entry) throw new Error(`${object} is missing on the target`);
  if (entry.Size !== expected.size) throw new Error(`${object} has ${entry.Size} bytes on the target, ${expected.size} were sent`);
  const theirs = check ? entry.Hashes?.[check] : undefined;
  if (check && theirs && expected[check]) {
    if (theirs.toLowerCase() !== expected[check]) throw new Error(`${object}: the target's ${check} ${theirs} differs from the ${expected[check]} that was sent`);
    return { method: check };
  }
  const back = await readBack(rclone, object, signal);
  if (back.size !== expected.size || back.sha256 !== expected.sha256) {
    throw new Error(`${object}: read back ${back.size} bytes with sha256 ${back.sha256}, sent ${expected.size} bytes with sha256 ${expected.sha256}`);
  }
  return { method: 'read-back' };
}

async function readBack(rclone: RcloneOptions, object: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const download = cat(rclone, object, signal);
  const hash = createHash('sha256');
  let size = 0;
  await Promise.all([
    pipeline(download.stdout as Readable, async (chunks: AsyncIterable<Buffer>) => {
      for await (const c of chunks) {
        size += c.length;
        hash.update(c);
      }
    }),
    download.done,
  ]);
  return { size, sha256: hash.digest('hex') };
}

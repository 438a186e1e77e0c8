/**
 * One object to a target, streamed, without a temp file, in bounded memory. Plain: rclone (the
 * copy's daemon, rclone-daemon.ts) reads the file itself while this process reads it too and
 * hashes it; the page cache serves the second reader. A sidecar (up to 1 MiB) is read whole and
 * sent in one request. Encrypted: this process reads the file, encrypts it (age-encrypt.ts) and the
 * ciphertext flows through the digests to the daemon, which reads it as an object of known size
 * (http-source.ts), waiting whenever rclone (or the uplink behind it, with --bwlimit) is slower.
 * Either way the digests are of the object as it must be on the remote, and the target's own hash
 * of it, compared afterwards (verifyObject), proves that it holds exactly those bytes.
 * (A plain file through this process and two pipes, as before, took ~2 s more per GiB on 2 cores.)
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { AgeEncrypt, AgeSealer, encryptedSize } from './age-encrypt.js';
import { encryptFileInto } from './encrypt-file.js';
import { Digester, DigestTap, type Digests } from './digest-tap.js';
import { HttpSource } from './http-source.js';
import { cat, lsjson, type RcloneOptions } from './rclone.js';
import type { RcloneDaemon } from './rclone-daemon.js';

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
  /**
   * The caller holds the object against the returned digests itself (verifyObject), so rclone skips
   * its own check; without it, a small file sent whole is read back and compared byte for byte
   * (rclone-daemon.ts upload: the only check a sidecar gets), a larger one checked by rclone.
   */
  callerChecks?: boolean;
  /** The copy's rclone daemon (or its start): plain files and small ones go through it (no process, no connection of their own). */
  daemon: RcloneDaemon | Promise<RcloneDaemon>;
  signal?: AbortSignal;
  onProgress?: (sent: number, total: number) => void;
}

/** Up to this size a file (a sidecar) goes to the daemon whole, in one request, and is read back; larger ones stream. */
const WHOLE_FILE_MAX = 1024 * 1024;

/** The one hash the target computes itself that a copy is checked with: sha256, else sha1, else md5; none: read back. */
export function remoteCheck(backendHashes: readonly string[]): { type: 'sha256' | 'sha1' | 'md5'; extra: ('md5' | 'sha1')[] } | undefined {
  for (const type of ['sha256', 'sha1', 'md5'] as const) {
    if (backendHashes.includes(type)) return { type, extra: type === 'sha256' ? [] : [type] };
  }
  return undefined;
}

export async function sendObject(o: SendOptions): Promise<Digests> {
  const plainSize = (await fs.promises.stat(o.source)).size;
  const encrypted = o.recipients.length > 0;
  const size = encrypted ? encryptedSize(plainSize, o.recipients.length) : plainSize;
  // rclone counts a retried transfer's bytes again: never more than the whole.
  const onBytes = (n: number) => o.onProgress?.(Math.min(n, size), size);
  // Stops whatever still runs when one part fails (the hashing reader, age, rclone).
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const sending = !o.callerChecks && plainSize <= WHOLE_FILE_MAX ? sendWhole(o, signal) : encrypted ? sendEncrypted(o, plainSize, size, signal, onBytes) : sendPlain(o, signal, onBytes);
  const { sent, plainSha256 } = await sending.finally(() => stop.abort());
  if (o.sourceSha256 !== undefined && plainSha256 !== o.sourceSha256) {
    throw new Error(`${o.source} changed since it was verified (sha256 ${plainSha256}, its sidecar says ${o.sourceSha256}): the copy on the target is not valid`);
  }
  if (sent.size !== size) throw new Error(`upload to ${o.object}: sent ${sent.size} bytes, expected ${size}`);
  return sent;
}

/** rclone (the daemon) reads the file itself while this process reads it too and hashes it; the page cache serves the second reader. */
async function sendPlain(o: SendOptions, signal: AbortSignal, onBytes: (n: number) => void): Promise<{ sent: Digests; plainSha256: string }> {
  const copy = (await o.daemon).copyFile(o.source, o.object, { signal, onBytes, callerChecks: o.callerChecks });
  const [sent] = await Promise.all([hashFile(o.source, o.remoteHashes, signal), copy]);
  return { sent, plainSha256: sent.sha256 };
}

/**
 * The file is read once, in one loop (encrypt-file.ts): its sha256, age encryption here, the
 * ciphertext's digests, and rclone (the daemon) reading the ciphertext as an object of known size
 * (http-source.ts).
 */
async function sendEncrypted(o: SendOptions, plainSize: number, size: number, signal: AbortSignal, onBytes: (n: number) => void): Promise<{ sent: Digests; plainSha256: string }> {
  // Made here first, so that a malformed recipient is refused before rclone is asked for anything;
  // a serve made again (rclone retrying) encrypts anew, under a new file key.
  let first: AgeSealer | undefined = new AgeSealer(o.recipients);
  const source = await HttpSource.open(size, async (sink, stop) => {
    const sealer = first ?? new AgeSealer(o.recipients);
    first = undefined;
    return encryptFileInto({ file: o.source, plainSize, sealer, also: o.remoteHashes ?? [], sink, signal: AbortSignal.any([signal, stop]) });
  });
  try {
    const copy = (await o.daemon).copyObject(source.remote, o.object, { signal, onBytes, callerChecks: o.callerChecks, singleStream: true, secret: source.secret });
    // When the file failed (unreadable, changed), its reason, not rclone's broken read of it.
    await copy.catch((err: unknown) => Promise.reject(source.failure ?? err));
    source.freeze();
    return await source.result();
  } finally {
    await source.close();
  }
}

/** A small file read whole, encrypted when recipients are given, sent in one request and read back from the target. */
async function sendWhole(o: SendOptions, signal: AbortSignal): Promise<{ sent: Digests; plainSha256: string }> {
  const plain = new DigestTap();
  const tap = new DigestTap(undefined, o.remoteHashes);
  const body: Buffer[] = [];
  const collect = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      body.push(chunk);
      done();
    },
  });
  const steps = o.recipients.length > 0 ? [plain, new AgeEncrypt(o.recipients), tap] : [plain, tap];
  await pipeline([Readable.from([await fs.promises.readFile(o.source, { signal })]), ...steps, collect], { signal });
  await (await o.daemon).upload(o.object, Buffer.concat(body), signal);
  return { sent: tap.digests(), plainSha256: plain.digests().sha256 };
}

/** Reads a file and hashes it (sha256 plus `also`), discarding the bytes. */
async function hashFile(file: string, also: readonly ('md5' | 'sha1')[] = [], signal?: AbortSignal): Promise<Digests> {
  const tap = new DigestTap(undefined, also);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  await pipeline(fs.createReadStream(file, { highWaterMark: 256 * 1024 }), tap, sink, { signal });
  return tap.digests();
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
export async function verifyObject(
  rclone: RcloneOptions,
  object: string,
  expected: Pick<Digests, 'size' | 'sha256'> & Partial<Digests>,
  signal?: AbortSignal,
  check?: 'sha256' | 'sha1' | 'md5',
  daemon?: RcloneDaemon,
): Promise<Verification> {
  // One hash type at most: a backend may compute each one it is asked for by reading the object.
  const hashType = check && expected[check] ? check : undefined;
  const entry = daemon ? await daemon.stat(object, hashType, signal) : (await lsjson(rclone, object, { hashTypes: hashType ? [hashType] : [], signal }))[0];
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
  const read = new Digester();
  await Promise.all([
    pipeline(download.stdout as Readable, async (chunks: AsyncIterable<Buffer>) => {
      for await (const c of chunks) read.update(c);
    }),
    download.done,
  ]);
  return read.digests();
}

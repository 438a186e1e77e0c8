/**
 * Copies one archive (or dump) of BACKUP_DIR with its sidecars to one target, and verifies it:
 * the archive (encrypted when recipients are given), then its manifest and plaintext checksum,
 * and last the checksum of the uploaded object, which marks the copy complete
 * (../../core/offsite-names.ts). An upload is checked on the target before that marker is written,
 * so a target never lists a copy that differs from what was sent. The steps share one rclone
 * daemon (rclone-daemon.ts), and so one connection to the target; an encrypted archive is read by
 * it as an object of known size that this process serves while encrypting it (http-source.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { completionMarker, remoteManifestName, remoteNamesOf, remoteObjectName, sizeDropMark } from '../../core/offsite-names.js';
import { backendHashes, remotePath, type RcloneOptions } from './rclone.js';
import { RcloneDaemon } from './rclone-daemon.js';
import { remoteCheck, sendObject, verifyObject, type Verification } from './send.js';

export interface CopyArchiveOptions {
  rclone: RcloneOptions;
  /** rclone `remote:path`. */
  target: string;
  backupDir: string;
  file: string;
  recipients: readonly string[];
  signal?: AbortSignal;
  onProgress?: (sent: number, total: number) => void;
}

export interface CopyResult {
  target: string;
  /** The object's name on the target. */
  file: string;
  size: number;
  /** sha256 of the object on the target (of the ciphertext when encrypted): checkable without the key. */
  sha256: string;
  encrypted: boolean;
  verification: Verification['method'];
  /** The remote's own hash type a later verification holds against (`md5`/`sha1`; '' when not computed). */
  md5: string;
  sha1: string;
  check: 'sha256' | 'sha1' | 'md5' | null;
}

export async function copyArchive(o: CopyArchiveOptions): Promise<CopyResult> {
  const encrypted = o.recipients.length > 0;
  const local = path.join(o.backupDir, o.file);
  const name = remoteObjectName(o.file, encrypted);
  const object = remotePath(o.target, name);
  // The daemon connects to the target at once (a look at the object), while the archive's sidecar
  // and the target's hash types are read here.
  const starting = RcloneDaemon.start(o.rclone, o.signal);
  starting.then((d) => d.stat(object, undefined, o.signal)).catch(() => undefined);
  // From the upload on, what is on the target is this attempt's (or overwritten by it).
  let uploading = false;
  try {
    const sidecar = await fs.readFile(`${local}.sha256`, 'utf8').catch(() => undefined);
    const sourceSha256 = sidecar ? /^([0-9a-f]{64})\s/.exec(sidecar)?.[1] : undefined;
    const check = remoteCheck(await backendHashes(o.rclone, o.target, o.signal));
    // The sidecars follow the archive, not beside it: uploads that start at once race to create a
    // new target directory, and on SFTP the loser fails (seen under the test suite's load).
    uploading = true;
    const sent = await sendObject({ rclone: o.rclone, object, source: local, recipients: o.recipients, sourceSha256, remoteHashes: check?.extra, callerChecks: true, daemon: starting, signal: o.signal, onProgress: o.onProgress });
    const daemon = await starting;
    // Once the archive is there, so is the directory: the sidecars go up while the target hashes the
    // archive for its check (0.3-0.5 s less per copy). A failed check is the reason given first.
    const [checked, sidecars] = await Promise.allSettled([
      verifyObject(o.rclone, object, sent, o.signal, check?.type, daemon),
      sendSidecars(o, daemon, local, encrypted, sidecar),
    ]);
    if (checked.status === 'rejected') throw checked.reason;
    if (sidecars.status === 'rejected') throw sidecars.reason;
    const { method } = checked.value;
    // Last: the marker of a complete copy, in `sha256sum -c` format.
    await daemon.upload(remotePath(o.target, completionMarker(o.file, encrypted)), Buffer.from(`${sent.sha256}  ${name}\n`), o.signal);
    return { target: o.target, file: name, size: sent.size, sha256: sent.sha256, encrypted, verification: method, md5: sent.md5, sha1: sent.sha1, check: check?.type ?? null };
  } catch (err) {
    if (uploading && !o.signal?.aborted) await removeIncomplete(o, starting, encrypted);
    throw err;
  } finally {
    await starting.then((d) => d.close(), () => undefined);
  }
}

/**
 * What a failed copy left on the target (a full disk left 0-byte objects, found by an audit), taken
 * away as far as the target lets us within CLEANUP_MS: without a completion marker it is no copy,
 * and the target's retention, which counts marked copies only, would never remove it. The next
 * attempt uploads over whatever stays.
 */
async function removeIncomplete(o: CopyArchiveOptions, starting: Promise<RcloneDaemon>, encrypted: boolean): Promise<void> {
  const daemon = await starting.catch(() => undefined);
  if (!daemon) return;
  // The marker first: with it gone, whatever stays is no listed copy.
  const marker = completionMarker(o.file, encrypted);
  const names = [marker, ...remoteNamesOf(o.file).filter((n) => n !== marker)];
  const signal = AbortSignal.timeout(CLEANUP_MS);
  for (const n of names) await daemon.remove(remotePath(o.target, n), signal).catch(() => undefined);
}

/** How long a failed copy's cleanup may take (a target that is down would otherwise hold the job). */
const CLEANUP_MS = 30_000;

async function sendSidecars(o: CopyArchiveOptions, daemon: RcloneDaemon, local: string, encrypted: boolean, sidecar: string | undefined): Promise<void> {
  const manifest = async () => {
    if (!(await exists(`${local}.manifest.json`))) return;
    const object = remotePath(o.target, remoteManifestName(o.file, encrypted));
    await sendObject({ rclone: o.rclone, object, source: `${local}.manifest.json`, recipients: o.recipients, daemon, signal: o.signal });
  };
  // Encrypted: the plaintext's checksum too, which the emergency procedure checks after `age -d`.
  const checksum = async () => {
    if (encrypted && sidecar !== undefined) await daemon.upload(remotePath(o.target, `${o.file}.sha256`), Buffer.from(sidecar), o.signal);
  };
  // A size drop: its mark, which the target's retention reads (core/offsite-names.ts sizeDropMark).
  const mark = async () => {
    const notes = JSON.parse(await fs.readFile(`${local}.manifest.json`, 'utf8').catch(() => '{}')) as { sizeDrop?: { previousFile?: unknown; ratio?: unknown } | null };
    if (!notes.sizeDrop) return;
    const body = `${JSON.stringify({ sizeDrop: { previousFile: notes.sizeDrop.previousFile, ratio: notes.sizeDrop.ratio } })}\n`;
    await daemon.upload(remotePath(o.target, sizeDropMark(o.file)), Buffer.from(body), o.signal);
  };
  await Promise.all([manifest(), checksum(), mark()]);
}

async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined))?.isFile() ?? false;
}

/**
 * How an archive is laid out on an off-site target. Encrypted (age recipients configured):
 *   <file>.age                 the archive, encrypted
 *   <file>.manifest.json.age   its manifest, encrypted (warnings may name patients' files)
 *   <file>.sha256              sha256 of the archive itself, to check after decryption
 *   <file>.age.sha256          sha256 of the ciphertext (`sha256sum -c`), written last
 * Plain: <file>, <file>.manifest.json, and <file>.sha256 written last.
 * The checksum of the uploaded object is written last: it marks a complete copy, so an upload cut
 * off halfway is never listed as a backup on the target.
 */
import { parseArchiveName, type ArchiveName } from './names.js';

export const AGE_SUFFIX = '.age';

export function remoteObjectName(file: string, encrypted: boolean): string {
  return encrypted ? `${file}${AGE_SUFFIX}` : file;
}

/** The sidecar whose presence marks a complete copy: the uploaded object's `.sha256`. */
export function completionMarker(file: string, encrypted: boolean): string {
  return `${remoteObjectName(file, encrypted)}.sha256`;
}

export function remoteManifestName(file: string, encrypted: boolean): string {
  return `${file}.manifest.json${encrypted ? AGE_SUFFIX : ''}`;
}

/** Every file name a copy of `file` may have on a target (for removal by retention). */
export function remoteNamesOf(file: string): string[] {
  return [`${file}${AGE_SUFFIX}`, file, `${file}.manifest.json${AGE_SUFFIX}`, `${file}.manifest.json`, `${file}.sha256`, `${file}${AGE_SUFFIX}.sha256`, sizeDropMark(file)];
}

/**
 * A plaintext mark beside a copy of an archive flagged for a size drop (a wiped or encrypted volume?):
 * the target's retention must not count it as a generation, and after a disaster, or once local
 * prune removed the archive, the target's own listing is the only place that still knows it (an
 * encrypted manifest cannot be read without the key). Without it a new server's retention counted
 * the wiped nights again and deleted the good chain, the point just restored included (found by an
 * audit). It holds no patient data: the previous archive's name and the ratio.
 */
export function sizeDropMark(file: string): string {
  return `${file}.sizedrop`;
}

export interface RemoteArchive extends ArchiveName {
  /** The name of the uploaded object (`<file>.age` or `<file>`). */
  object: string;
  encrypted: boolean;
}

/** The complete copies among a target's file names: each archive whose completion marker is there. */
export function completeRemoteArchives(names: Iterable<string>): RemoteArchive[] {
  const present = new Set(names);
  const found: RemoteArchive[] = [];
  for (const n of present) {
    const encrypted = n.endsWith(AGE_SUFFIX) && !n.endsWith(`.manifest.json${AGE_SUFFIX}`);
    const file = encrypted ? n.slice(0, -AGE_SUFFIX.length) : n;
    const parsed = parseArchiveName(file);
    if (!parsed || !present.has(completionMarker(file, encrypted))) continue;
    found.push({ ...parsed, object: n, encrypted });
  }
  return found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

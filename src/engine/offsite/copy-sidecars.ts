/**
 * What a copy's sidecars on a target must say before its archive is fetched: each checksum line
 * names the very object it stands beside, and the manifest is this service's own, names this
 * archive and carries what the restore holds the archive against.
 *
 * Why the names: whoever can write to a target (its provider, a thief of its credentials) can copy
 * an older set's objects over a newer set's names without any key, sidecars and all; the checksums
 * then match and the archive decrypts. Only the names inside the sidecars (and inside the
 * encrypted manifest, which nobody can rewrite without the key to read it first) tell that the
 * archive belongs to another set. Why a manifest is required: every copy this service makes has
 * one, and without it the restore could only treat the archive as one copied in by hand, with
 * nothing to hold it against.
 */

/** The sha256 of a `sha256sum` line, after checking that the line names `expectedName`. */
export function checksumFor(text: string, sidecar: string, expectedName: string, where: string): string {
  const m = /^([0-9a-f]{64}) [ *](.+)$/m.exec(text);
  if (!m) throw new Error(`${sidecar} on ${where} is not a sha256sum line`);
  const named = m[2]!.replace(/^\.\//, '');
  if (named !== expectedName) {
    throw new Error(`${sidecar} on ${where} is the checksum of ${JSON.stringify(named)}, not of ${expectedName}: another archive's copy under this name (copied or renamed there?)`);
  }
  return m[1]!;
}

/** Throws unless `text` is this service's manifest of `file`, with the plaintext sha256 `sha256`. */
export function checkCopyManifest(text: string, manifestName: string, file: string, sha256: string, kind: 'volume' | 'sql', where: string): void {
  let m: { tool?: unknown; file?: unknown; sha256?: unknown; entries?: unknown; entryDigest?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    throw new Error(`${manifestName} on ${where} is not a manifest of this service (no JSON)`);
  }
  if (m?.tool !== 'oob-backup') throw new Error(`${manifestName} on ${where} is not a manifest of this service`);
  if (m.file !== file) {
    throw new Error(`${manifestName} on ${where} belongs to ${JSON.stringify(m.file)}, not to ${file}: another archive's copy under this name (copied or renamed there?)`);
  }
  if (m.sha256 !== sha256) throw new Error(`${manifestName} on ${where} gives the archive the sha256 ${String(m.sha256)}, its .sha256 says ${sha256}`);
  if (kind === 'volume' && (typeof m.entries !== 'number' || typeof m.entryDigest !== 'string')) {
    throw new Error(`${manifestName} on ${where} lacks the entry count or the entry digest that every archive's manifest holds`);
  }
}

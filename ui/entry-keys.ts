/**
 * The API's entry keys (base64url of a path's raw bytes) in the browser: the folders above a
 * directory get their keys by cutting the directory's own key at its '/' bytes, never by
 * re-encoding a shown name (which is lossy for a name that is not UTF-8).
 */

export function keyToBytes(key: string): Uint8Array {
  const b64 = key.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function bytesToKey(b: Uint8Array): string {
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The volume root ('' key, shown as '/') and every directory down to `dirKey`, with key and shown name. */
export function crumbs(dirKey: string): { key: string; name: string }[] {
  const out = [{ key: '', name: '/' }];
  if (!dirKey) return out;
  const b = keyToBytes(dirKey);
  const text = new TextDecoder();
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x2f) {
      out.push({ key: bytesToKey(b.subarray(0, i)), name: text.decode(b.subarray(start, i)) });
      start = i + 1;
    }
  }
  return out;
}

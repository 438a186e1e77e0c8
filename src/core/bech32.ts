/**
 * Bech32 (BIP 173), the encoding of age's keys: an `age1…` recipient is the human-readable part
 * `age`, a `1`, the 32-byte X25519 public key in 5-bit groups, and a 6-character checksum. Only
 * decoding is needed (recipients come from the configuration); the checksum catches a mistyped or
 * truncated key before anything is encrypted to it.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATORS[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/**
 * Decodes `text` (all lower case or all upper case) whose human-readable part must be `hrp`;
 * returns the data bytes. Throws with the reason for anything else.
 */
export function bech32Decode(text: string, hrp: string): Buffer {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw new Error('mixes upper and lower case');
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (s.slice(0, sep) !== hrp) throw new Error(`does not start with "${hrp}1"`);
  const values: number[] = [];
  for (const c of s.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v === -1) throw new Error(`contains "${c}", which bech32 does not use`);
    values.push(v);
  }
  if (values.length < 6) throw new Error('is too short');
  if (polymod([...hrpExpand(hrp), ...values]) !== 1) throw new Error('has a wrong checksum (mistyped or cut short?)');
  // 5-bit groups to bytes; what is left over must be fewer than 5 zero bits.
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const v of values.slice(0, -6)) {
    acc = ((acc << 5) | v) & 0x1fff; // at most 12 bits are pending
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >>> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) throw new Error('has invalid padding');
  return Buffer.from(bytes);
}

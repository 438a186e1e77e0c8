/**
 * age encryption (age-encryption.org/v1, X25519 recipients) in this process, with Node's crypto
 * (OpenSSL's ChaCha20-Poly1305, X25519, HKDF and HMAC): what `age -r <key>` writes, decryptable by
 * the standard `age -d -i key.txt`, which the tests use as the independent reader.
 *
 * Why not the `age` CLI for this direction: on the way out the ciphertext must pass through this
 * process anyway (its sha256 and the target's hash are taken on the way to rclone), so with the CLI
 * every byte crossed one more pipe: on this machine's two cores that pipe cost more CPU than the
 * encryption itself (300 MiB: `age | cat` 0.69 s of CPU against 0.24 s for age alone, OpenSSL's
 * ChaCha20-Poly1305 here 0.18 s; BENCHMARKS.md), and the file was read twice (age, and our
 * plaintext check). Decryption stays with the CLI (age.ts): it needs the identity, which never
 * enters this process's streams.
 *
 * The format: a text header (one stanza per recipient wrapping a random 16-byte file key, then an
 * HMAC over the header), a random 16-byte nonce, then the payload in 64 KiB chunks, each sealed
 * with ChaCha20-Poly1305 under a key derived from the file key and that nonce; a chunk's nonce is
 * its 11-byte big-endian counter and a byte that is 1 only for the last chunk (which is therefore
 * held back until the input has ended or a byte after it has arrived).
 */
import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { bech32Decode } from '../../core/bech32.js';

/** Plaintext per payload chunk (age's STREAM chunk size). */
export const AGE_CHUNK = 64 * 1024;

/** `age-encryption.org/v1\n`, `--- <mac>\n`, and one `-> X25519 <share>\n<body>\n` stanza per recipient. */
const HEADER_FIXED = 22 + 48;
const X25519_STANZA = 98;
const NONCE = 16;
const TAG = 16;

/**
 * The exact size of the age file for a plaintext of `plainSize` bytes, ours and `age -r …`'s alike
 * (age 1.x writes no extra stanzas for X25519 recipients). rclone needs it to upload a stream to
 * backends that cannot take one of unknown length; a wrong figure fails the upload and the
 * verification, never silently.
 */
export function encryptedSize(plainSize: number, recipients: number): number {
  const chunks = Math.max(1, Math.ceil(plainSize / AGE_CHUNK));
  return HEADER_FIXED + X25519_STANZA * recipients + NONCE + plainSize + TAG * chunks;
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const hkdf = (ikm: Buffer, salt: Buffer, info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

function seal(key: Buffer, nonce: Buffer, plaintext: Buffer): Buffer[] {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  const body = c.update(plaintext);
  c.final();
  return [body, c.getAuthTag()];
}

/**
 * The X25519 public key of an `age1…` recipient; throws naming the recipient when it is not one, or
 * when it is a low-order point (the all-zero key, say): every secret shared with it is zero, which
 * age refuses and OpenSSL refuses to derive, so no copy could ever be encrypted to it.
 */
export function recipientKey(recipient: string): KeyObject {
  const key = decodeRecipient(recipient);
  sharedSecret(generateKeyPairSync('x25519').privateKey, key, recipient);
  return key;
}

function decodeRecipient(recipient: string): KeyObject {
  let raw: Buffer;
  try {
    raw = bech32Decode(recipient, 'age');
  } catch (err) {
    throw new Error(`age recipient ${recipient} ${(err as Error).message}`, { cause: err });
  }
  if (raw.length !== 32) throw new Error(`age recipient ${recipient} holds ${raw.length} bytes, an X25519 key has 32`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

const rawPublic = (k: KeyObject) => Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url');

function sharedSecret(privateKey: KeyObject, publicKey: KeyObject, recipient: string): Buffer {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch (err) {
    throw new Error(`age recipient ${recipient} is a low-order point, not a usable key (${(err as Error).message})`, { cause: err });
  }
  if (shared.every((b) => b === 0)) throw new Error(`age recipient ${recipient} is a low-order point, not a usable key`);
  return shared;
}

/** One `-> X25519` stanza: the file key wrapped for one recipient by a fresh ephemeral key. */
function x25519Stanza(recipient: string, fileKey: Buffer): string {
  const key = decodeRecipient(recipient); // sharedSecret below refuses a low-order key
  const eph = generateKeyPairSync('x25519');
  const shared = sharedSecret(eph.privateKey, key, recipient);
  const ephPub = rawPublic(eph.publicKey);
  const wrapKey = hkdf(shared, Buffer.concat([ephPub, rawPublic(key)]), 'age-encryption.org/v1/X25519');
  const body = Buffer.concat(seal(wrapKey, Buffer.alloc(12), fileKey));
  return `-> X25519 ${b64(ephPub)}\n${b64(body)}\n`;
}

/** The header and payload nonce for `recipients`, and the key that seals the payload's chunks. */
function begin(recipients: readonly string[]): { prefix: Buffer; payloadKey: Buffer } {
  if (recipients.length === 0) throw new Error('age encryption needs at least one recipient');
  const fileKey = randomBytes(16);
  const head = `age-encryption.org/v1\n${recipients.map((r) => x25519Stanza(r, fileKey)).join('')}---`;
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header')).update(head).digest();
  const nonce = randomBytes(16);
  return { prefix: Buffer.concat([Buffer.from(`${head} ${b64(mac)}\n`), nonce]), payloadKey: hkdf(fileKey, nonce, 'payload') };
}

/**
 * The sealing of one age file, for a caller that reads its plaintext itself (encrypt-file.ts):
 * `prefix` (the header and the payload nonce) comes first, then every chunk of AGE_CHUNK bytes
 * sealed in order, the last one (full or shorter; empty only for an empty plaintext) with `last`.
 */
export class AgeSealer {
  readonly prefix: Buffer;
  private readonly payloadKey: Buffer;
  private counter = 0n;
  private readonly nonce = Buffer.alloc(12);

  /** Throws for a recipient that is not a valid `age1…` key. */
  constructor(recipients: readonly string[]) {
    const { prefix, payloadKey } = begin(recipients);
    this.prefix = prefix;
    this.payloadKey = payloadKey;
  }

  /** The ciphertext of the next chunk and its tag. */
  seal(plaintext: Buffer, last: boolean): Buffer[] {
    this.nonce.writeBigUInt64BE(this.counter++, 3); // bytes 0-2 of the 11-byte counter stay 0
    this.nonce[11] = last ? 1 : 0;
    return seal(this.payloadKey, this.nonce, plaintext);
  }
}

/**
 * A stream that encrypts what is written into it to `recipients` (its output is an age file): for
 * small files sent whole (send.ts); an archive is encrypted by encrypt-file.ts with an AgeSealer.
 * Throws at construction for a recipient that is not a valid `age1…` key. Memory: one chunk is
 * held back, the rest is encrypted as it arrives.
 */
export class AgeEncrypt extends Transform {
  private readonly sealer: AgeSealer;
  private prefix: Buffer | undefined;
  private held: Buffer | undefined;

  constructor(recipients: readonly string[]) {
    super();
    this.sealer = new AgeSealer(recipients);
    this.prefix = this.sealer.prefix;
  }

  private chunk(plaintext: Buffer, last: boolean, out: Buffer[]): void {
    out.push(...this.sealer.seal(plaintext, last));
  }

  private begin(out: Buffer[]): void {
    if (this.prefix) out.push(this.prefix);
    this.prefix = undefined;
  }

  override _transform(input: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    this.begin(out);
    let off = 0;
    if (this.held) {
      // Fill the held chunk; it is not the last one only if input is left over after it.
      const take = Math.min(AGE_CHUNK - this.held.length, input.length);
      if (take > 0) this.held = Buffer.concat([this.held, input.subarray(0, take)]);
      off = take;
      if (off === input.length) return done(null, out.length ? Buffer.concat(out) : undefined);
      this.chunk(this.held, false, out);
      this.held = undefined;
    }
    for (; input.length - off > AGE_CHUNK; off += AGE_CHUNK) this.chunk(input.subarray(off, off + AGE_CHUNK), false, out);
    this.held = Buffer.from(input.subarray(off)); // a copy: the reader may reuse its buffer
    done(null, Buffer.concat(out));
  }

  override _flush(done: TransformCallback): void {
    const out: Buffer[] = [];
    this.begin(out);
    // An empty plaintext is one empty last chunk (its tag alone), as age writes it.
    this.chunk(this.held ?? Buffer.alloc(0), true, out);
    this.held = undefined;
    done(null, Buffer.concat(out));
  }
}

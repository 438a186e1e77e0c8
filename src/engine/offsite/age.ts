/**
 * The age format (age-encryption.org/v1) through the `age` CLI (Debian package `age`): encryption
 * to the practice's public keys on the way out, decryption with an identity on the way back. The
 * CLI is the reference implementation in Go, streams in 64 KiB chunks with constant memory, and
 * runs on its own core beside the upload (see BENCHMARKS.md, "Off-site copies").
 *
 * An identity never touches the disk or the command line: it is written into a pipe that `age`
 * reads as its identity file (/dev/fd/3), so it lives only in this process's memory and age's.
 */
import type { Readable, Writable } from 'node:stream';
import { startChild, type Child } from './child.js';

/** An age X25519 recipient (public key): bech32 `age1` + 58 characters. */
export const AGE_RECIPIENT = /^age1[ac-hj-np-z02-9]{58}$/;

/** Plaintext per age payload chunk; each chunk carries a 16-byte Poly1305 tag. */
const CHUNK = 64 * 1024;
/** `age-encryption.org/v1\n`, `--- <mac>\n`, and one `-> X25519 <share>\n<body>\n` stanza per recipient. */
const HEADER_FIXED = 22 + 48;
const X25519_STANZA = 98;
const NONCE = 16;
const TAG = 16;

/**
 * The exact size of `age -r …` output for a plaintext of `plainSize` bytes (age 1.x writes no extra
 * stanzas for X25519 recipients). rclone needs it to upload a stream to backends that cannot take
 * one of unknown length; a wrong figure fails the upload and the verification, never silently.
 */
export function encryptedSize(plainSize: number, recipients: number): number {
  const chunks = Math.max(1, Math.ceil(plainSize / CHUNK));
  return HEADER_FIXED + X25519_STANZA * recipients + NONCE + plainSize + TAG * chunks;
}

export function encryptStream(recipients: readonly string[], signal?: AbortSignal): Child & { stdin: Writable; stdout: Readable } {
  const args = recipients.flatMap((r) => ['-r', r]);
  const child = startChild('age', ['--encrypt', ...args], { stdio: ['pipe', 'pipe', 'pipe'], signal, what: 'age encryption' });
  return { ...child, stdin: child.proc.stdin!, stdout: child.proc.stdout! };
}

/** Decrypts stdin to stdout with `identity` (the text of an age identity file), handed over through a pipe. */
export function decryptStream(identity: string, signal?: AbortSignal): Child & { stdin: Writable; stdout: Readable } {
  const child = startChild('age', ['--decrypt', '-i', '/dev/fd/3'], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    signal,
    secrets: identity.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-')),
    what: 'age decryption',
  });
  const keyPipe = child.proc.stdio[3] as Writable;
  keyPipe.on('error', () => undefined); // age exiting early is reported by `done`
  keyPipe.end(identity);
  return { ...child, stdin: child.proc.stdin!, stdout: child.proc.stdout! };
}

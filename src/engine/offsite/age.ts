/**
 * The age format (age-encryption.org/v1) through the `age` CLI (Debian package `age`, the reference
 * implementation in Go, streaming in 64 KiB chunks with constant memory): decryption with an
 * identity on the way back, and short texts. Archives on their way out are encrypted in this
 * process (age-encrypt.ts), whose output the CLI decrypts.
 *
 * An identity never touches the disk or the command line: it is written into a named pipe (FIFO,
 * in a private 0700 directory) that `age` reads as its identity file, so its bytes pass only
 * through the kernel's pipe buffer, from this process's memory to age's. (Node's stdio pipes are
 * socket pairs, which age cannot open as /dev/fd/N.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { startChild, type Child } from './child.js';

/** Decrypts stdin to stdout with `identity` (the text of an age identity file), handed over through a FIFO. */
export async function decryptStream(identity: string, signal?: AbortSignal): Promise<Child & { stdin: Writable; stdout: Readable }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oob-age-'));
  const fifo = path.join(dir, 'identity');
  try {
    await promisify(execFile)('mkfifo', ['-m', '600', fifo]);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw new Error(`age decryption: cannot make a pipe for the identity: ${(err as Error).message}`, { cause: err });
  }
  const child = startChild('age', ['--decrypt', '-i', fifo], {
    stdio: ['pipe', 'pipe', 'pipe'],
    signal,
    secrets: identity.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-')),
    what: 'age decryption',
    // age's own request to report unhelpful errors to its author says nothing to the admin.
    stderrLine: (line) => (line.includes('filippo.io/age/report') ? undefined : line),
  });
  // Opening the FIFO for writing waits until age opens it for reading. If age ends without opening
  // it, that open would hold a thread of libuv's pool forever: we then open the reading end
  // ourselves (non-blocking), which releases it, and drop what was written.
  let handedOver = false;
  const handOver = (async () => {
    const fh = await fs.open(fifo, 'w');
    try {
      await fh.writeFile(identity);
    } finally {
      await fh.close();
      handedOver = true;
    }
  })().catch(() => undefined);
  void child.done
    .catch(() => undefined)
    .then(async () => {
      if (!handedOver) {
        const reader = await fs.open(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK).catch(() => undefined);
        await handOver;
        await reader?.close();
      }
      await fs.rm(dir, { recursive: true, force: true });
    });
  return { ...child, stdin: child.proc.stdin!, stdout: child.proc.stdout! };
}

/** A fresh X25519 identity, made by `age-keygen` and held in memory only. */
export async function generateIdentity(): Promise<{ identity: string; recipient: string }> {
  const { stdout } = await promisify(execFile)('age-keygen', [], { encoding: 'utf8' });
  const recipient = /public key: (age1\S+)/.exec(stdout)?.[1];
  if (!recipient) throw new Error('age-keygen wrote no public key');
  return { identity: stdout, recipient };
}

/** A short text encrypted to `recipients`, ASCII-armored. */
export async function encryptText(text: string, recipients: readonly string[]): Promise<string> {
  const child = startChild('age', ['--encrypt', '--armor', ...recipients.flatMap((r) => ['-r', r])], { stdio: ['pipe', 'pipe', 'pipe'], what: 'age encryption' });
  return collect(child, text);
}

/** The text of an armored age file, decrypted with `identity`. */
export async function decryptText(armored: string, identity: string): Promise<string> {
  const child = await decryptStream(identity);
  return collect(child, armored);
}

async function collect(child: Child, input: string): Promise<string> {
  const chunks: Buffer[] = [];
  child.proc.stdout!.on('data', (c: Buffer) => chunks.push(c));
  child.proc.stdin!.on('error', () => undefined); // reported by `done`
  child.proc.stdin!.end(input);
  await child.done;
  return Buffer.concat(chunks).toString('utf8');
}

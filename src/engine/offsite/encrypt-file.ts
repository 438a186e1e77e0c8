/**
 * An archive encrypted to age recipients straight into the response rclone reads (http-source.ts),
 * its plaintext and its ciphertext hashed on the way: one loop over the file instead of a chain of
 * stream stages (read stream → digest → AgeEncrypt → digest → length check → response). The chain
 * copied every byte twice more (each stage's buffers joined), allocated a new read buffer per MiB
 * and kept the garbage collector busy; on two cores shared with rclone and the SSH connection this
 * one thread was the bottleneck of an encrypted copy (BENCHMARKS.md, fourteenth session).
 *
 * The plaintext is read at its known size (the size announced to rclone was computed from it): a
 * file that is shorter or longer by the time it is read fails the copy, named, rather than sending
 * an object of another length. Memory: one 1 MiB read buffer and the ciphertext of one MiB in flight
 * (the response's back-pressure holds the loop).
 */
import { once } from 'node:events';
import fs from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AGE_CHUNK, AgeSealer } from './age-encrypt.js';
import { Digester, type Digests } from './digest-tap.js';

/** Plaintext read and sealed per turn: 16 age chunks. */
const BLOCK = 16 * AGE_CHUNK;

export interface EncryptFileOptions {
  file: string;
  /** The file's size when the copy began (what the announced object size was computed from). */
  plainSize: number;
  sealer: AgeSealer;
  /** Hash types of the ciphertext to compute besides sha256 (the target's check). */
  also: readonly ('md5' | 'sha1')[];
  sink: Writable;
  signal: AbortSignal;
}

export async function encryptFileInto(o: EncryptFileOptions): Promise<{ sent: Digests; plainSha256: string }> {
  const plain = new Digester();
  const cipher = new Digester(o.also);
  const send = async (parts: Buffer[]) => {
    for (const p of parts) cipher.update(p);
    await writeAll(o.sink, parts, o.signal);
  };
  const changed = (how: string) => new Error(`${o.file} changed while it was copied (${how}, it had ${o.plainSize} bytes when the copy began): the copy on the target is not valid`);

  const fh = await fs.open(o.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(BLOCK);
    await send([o.sealer.prefix]);
    let pos = 0;
    do {
      o.signal.throwIfAborted();
      const want = Math.min(BLOCK, o.plainSize - pos);
      const got = await readFully(fh, buf, want, pos);
      if (got < want) throw changed(`it ended after ${pos + got} bytes`);
      plain.update(buf.subarray(0, want));
      const parts: Buffer[] = [];
      // An empty file is one empty last chunk; otherwise the chunk ending at plainSize is the last.
      for (let off = 0; ; off += AGE_CHUNK) {
        const end = Math.min(off + AGE_CHUNK, want);
        parts.push(...o.sealer.seal(buf.subarray(off, end), pos + end === o.plainSize));
        if (end === want) break;
      }
      pos += want;
      await send(parts);
    } while (pos < o.plainSize);
    if ((await fh.read(buf, 0, 1, pos)).bytesRead > 0) throw changed('it grew');
  } finally {
    await fh.close();
  }
  o.sink.end();
  if (!o.sink.writableFinished) await once(o.sink, 'finish', { signal: o.signal });
  return { sent: cipher.digests(), plainSha256: plain.digests().sha256 };
}

async function readFully(fh: fs.FileHandle, buf: Buffer, want: number, position: number): Promise<number> {
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Writes `parts` as one batch (writev on a socket) and waits while the reader is behind. */
async function writeAll(sink: Writable, parts: Buffer[], signal: AbortSignal): Promise<void> {
  if (sink.destroyed) throw signal.reason ?? new Error('the reader went away');
  sink.cork();
  let ok = true;
  for (const p of parts) ok = sink.write(p);
  sink.uncork();
  // Aborted (the reader went away): its reason, not the AbortError of the wait.
  if (!ok) await once(sink, 'drain', { signal }).catch((err: unknown) => Promise.reject(signal.aborted ? signal.reason : err));
}

/**
 * A writer thread of extract-writers.ts: creates, fills and closes the small files of a restore
 * that the main thread has already checked, batch after batch, in the order they were sent.
 *
 * It blocks in Atomics.wait until the main thread publishes a batch (it has nothing else to do).
 * Every batch is counted as done, also after a failure (then its files are skipped), so the main
 * thread never waits for a batch that will not come. The first failure is reported once on the
 * error port, before STOP is set, so whoever sees STOP finds the message.
 */
import fs from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { applyFileMeta, CREATE_FLAGS, writeAll } from './extract-file.js';
import { CLOSE, ctl, decodeRecord, SLOT_BYTES, SLOTS, STOP, type WriterData, type WriterFailure } from './extract-writers-protocol.js';

const { control, slots, index, root, errors } = workerData as WriterData & { errors: MessagePort };
const state = new Int32Array(control);
const SENT = ctl(index, 'sent');
const DONE = ctl(index, 'done');
const slotViews = Array.from({ length: SLOTS }, (_, i) => Buffer.from(slots, i * SLOT_BYTES, SLOT_BYTES));

function writeBatch(slot: Buffer): void {
  const count = slot.readUInt32LE(0);
  let off = 4;
  for (let i = 0; i < count && Atomics.load(state, STOP) === 0; i++) {
    const { file: f, content, len, next } = decodeRecord(slot, off);
    off = next;
    let stage: WriterFailure['stage'] = 'create';
    let fd: number | undefined;
    try {
      fd = openReplacing(Buffer.from(`${root}/${f.rel}`, 'latin1'), f.createMode);
      stage = 'write';
      writeAll(fd, slot.subarray(content, content + len));
      stage = 'meta';
      applyFileMeta(fd, f);
      const closing = fd;
      fd = undefined;
      fs.closeSync(closing);
    } catch (err) {
      if (fd !== undefined) closeQuietly(fd);
      const e = err as NodeJS.ErrnoException;
      fail({ raw: f.raw, rel: f.rel, stage, message: e.message, replacesDir: e instanceof ReplacesDirectory });
    }
  }
}

function fail(f: WriterFailure): void {
  errors.postMessage(f);
  Atomics.store(state, STOP, 1);
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already failing; the file is removed with the staging directory.
  }
}

class ReplacesDirectory extends Error {}

/**
 * Create the file; an earlier entry of the same name (not a directory) is unlinked once, never
 * followed, as the main thread's create() does. Parent directories exist: the main thread made
 * them before it sent the file.
 */
function openReplacing(abs: Buffer, mode: number): number {
  try {
    return fs.openSync(abs, CREATE_FLAGS, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (fs.lstatSync(abs).isDirectory()) throw new ReplacesDirectory('would replace a directory of the same name extracted before');
  fs.unlinkSync(abs);
  return fs.openSync(abs, CREATE_FLAGS, mode);
}

Atomics.store(state, ctl(index, 'ready'), 1);
Atomics.notify(state, ctl(index, 'ready'));
let done = 0;
for (;;) {
  const sent = Atomics.load(state, SENT);
  if (done < sent) {
    try {
      if (Atomics.load(state, STOP) === 0) writeBatch(slotViews[done % SLOTS]!);
    } catch (err) {
      // Not a file's failure (those are caught per file): a batch we cannot read, i.e. a bug.
      fail({ raw: '', rel: '', stage: 'create', message: `writer thread ${index}: ${(err as Error).message}`, replacesDir: false });
    }
    done++;
    Atomics.store(state, DONE, done);
    Atomics.notify(state, DONE);
    continue;
  }
  if (Atomics.load(state, CLOSE) !== 0) break;
  Atomics.wait(state, SENT, sent);
}

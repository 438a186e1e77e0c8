/**
 * What the main thread (extract-writers.ts) and its writer threads (extract-writer-thread.ts)
 * share: a control array and, per writer, SLOTS fixed batch buffers in shared memory. Nothing is
 * allocated or cloned per file or per batch (structured clone of 20,000 small records and the
 * garbage of one buffer per batch cost more than the writers saved).
 *
 * A batch: u32 file count, then per file a record: the fixed header below, the relative path and
 * the archive's path (their bytes: binary strings, one char per byte), then the content.
 */

export const SLOTS = 4;
export const SLOT_BYTES = 512 * 1024;
/** Batches end after this many files even when their slot has room (the writer starts sooner). */
export const BATCH_FILES = 128;
/** Paths longer than this stay on the main thread, which reaches deep paths through directory descriptors. */
export const MAX_PATH_BYTES = 3800;

/** Int32 slots of the control array: STOP (skip what is queued), CLOSE (end the thread), then per writer READY, SENT, DONE. */
export const STOP = 0;
export const CLOSE = 1;
export function ctl(writer: number, what: 'ready' | 'sent' | 'done'): number {
  return 2 + 3 * writer + (what === 'ready' ? 0 : what === 'sent' ? 1 : 2);
}
export function ctlLength(writers: number): number {
  return 2 + 3 * writers;
}

export interface WriterData {
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  index: number;
  /** The staging directory (binary string): records carry paths relative to it. */
  root: string;
}

/** What a record says about its file (content follows it). The mtime as whole seconds since the epoch and nanoseconds. */
export interface FileRecord {
  /** Binary strings (one char per byte): the path below the staging directory, and as the archive names it. */
  rel: string;
  raw: string;
  mode: number;
  createMode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  chmod: boolean;
  chown: boolean;
}

/** The first failure of a writer; after it every writer skips what it still has. */
export interface WriterFailure {
  raw: string;
  rel: string;
  stage: 'create' | 'write' | 'meta';
  message: string;
  /** The archive names the file like a directory extracted before it (hostile). */
  replacesDir: boolean;
}

// relLen u16, rawLen u16, mtimeSec f64 (any safe integer), mtimeNsec u32, mode u32, createMode u32, uid u32, gid u32, flags u8, len u32
const HEADER = 2 + 2 + 8 + 4 + 4 + 4 + 4 + 4 + 1 + 4;
const CHMOD = 1;
const CHOWN = 2;

/** Bytes a record of these paths and content needs in a slot. */
export function recordBytes(relBytes: number, rawBytes: number, len: number): number {
  return HEADER + relBytes + rawBytes + len;
}

/** Write a record's header and paths at `off`; returns where its `len` content bytes go. */
export function encodeRecord(slot: Buffer, off: number, f: FileRecord, len: number): number {
  let p = off;
  const relLen = slot.write(f.rel, p + HEADER, 'latin1');
  const rawLen = slot.write(f.raw, p + HEADER + relLen, 'latin1');
  p = slot.writeUInt16LE(relLen, p);
  p = slot.writeUInt16LE(rawLen, p);
  p = slot.writeDoubleLE(f.mtimeSec, p);
  p = slot.writeUInt32LE(f.mtimeNsec, p);
  p = slot.writeUInt32LE(f.mode, p);
  p = slot.writeUInt32LE(f.createMode, p);
  // Unsigned: owners up to 2^32-2 (NFS's nobody is 4294967294) are valid, as GNU tar restores them.
  p = slot.writeUInt32LE(f.uid, p);
  p = slot.writeUInt32LE(f.gid, p);
  p = slot.writeUInt8((f.chmod ? CHMOD : 0) | (f.chown ? CHOWN : 0), p);
  slot.writeUInt32LE(len, p);
  return off + HEADER + relLen + rawLen;
}

/** Read the record at `off`: the file, where its content is, and where the next record starts. */
export function decodeRecord(slot: Buffer, off: number): { file: FileRecord; content: number; len: number; next: number } {
  let p = off;
  const relLen = slot.readUInt16LE(p);
  const rawLen = slot.readUInt16LE(p + 2);
  p += 4;
  const mtimeSec = slot.readDoubleLE(p);
  const mtimeNsec = slot.readUInt32LE(p + 8);
  const mode = slot.readUInt32LE(p + 12);
  const createMode = slot.readUInt32LE(p + 16);
  const uid = slot.readUInt32LE(p + 20);
  const gid = slot.readUInt32LE(p + 24);
  const flags = slot.readUInt8(p + 28);
  const len = slot.readUInt32LE(p + 29);
  p = off + HEADER;
  const rel = slot.toString('latin1', p, p + relLen);
  const raw = slot.toString('latin1', p + relLen, p + relLen + rawLen);
  const content = p + relLen + rawLen;
  const file = { rel, raw, mode, createMode, uid, gid, mtimeSec, mtimeNsec, chmod: (flags & CHMOD) !== 0, chown: (flags & CHOWN) !== 0 };
  return { file, content, len, next: content + len };
}

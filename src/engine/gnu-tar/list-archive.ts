/**
 * GNU tar's own view of an archive, as EntryRecords: the second, independent reader that verification
 * holds our tar reader against (issue 10, "What must hold" 5).
 *
 * We run `tar --list --verbose` and parse its long listing. The flags make that listing exact and
 * machine-readable (each one was checked against GNU tar 1.34):
 * - `LC_ALL=C` + `--quoting-style=c`: every name and link target is printed in double quotes, with
 *   every control character, `"`, `\` and every byte >= 0x80 escaped; a listing line is therefore
 *   ASCII and ends at the first raw newline, whatever the names hold.
 * - `--numeric-owner`, `--full-time --utc`: numbers and full-resolution UTC times, no user names,
 *   no time zone.
 * - `--absolute-names`: without it GNU tar prints a hard link's target with a leading "/" or "../"
 *   removed (not the stored bytes). Member names are printed as stored either way.
 * - `--force-local`: an archive path containing ':' is a local file, not "host:file" for rmt.
 * - `--no-xattrs --no-acls --no-selinux`: no extra marker column after the mode string.
 * - TAR_OPTIONS is removed from the child's environment, so a user's defaults cannot change the
 *   format. Compression is left to tar's own detection (by content), which reads .tar and .tar.gz
 *   alike; `-z` would refuse a plain .tar.
 *
 *
 * The lines are parsed by listing-line.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { EntryRecord } from '../entry-record.js';
import { parseListingLine } from './listing-line.js';

export interface GnuTarListOptions {
  signal?: AbortSignal;
  /** The GNU tar executable; default `tar` from PATH. */
  tarCommand?: string;
}

const LIST_ARGS = [
  '--list',
  '--verbose',
  '--numeric-owner',
  '--full-time',
  '--utc',
  '--quoting-style=c',
  '--absolute-names',
  '--force-local',
  '--no-xattrs',
  '--no-acls',
  '--no-selinux',
];

/** A single listing line longer than this is not a line of GNU tar's listing (a 4 MiB name, escaped, is 16 MiB). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** How much of tar's stderr goes into an error message. */
const MAX_STDERR_BYTES = 16 * 1024;

/**
 * Lists `archivePath` with GNU tar and calls `onEntry` for each entry, in archive order, as the
 * listing streams in (nothing is held beyond the current line). A volume label ('V') is not an
 * entry and is skipped. Rejects when tar cannot be run, exits non-zero, prints a line we cannot
 * parse, when `onEntry` throws, or when aborted; the child is killed in every such case.
 */
export function listWithGnuTar(
  archivePath: string,
  onEntry: (e: EntryRecord) => void,
  opts: GnuTarListOptions = {},
): Promise<{ entries: number }> {
  if (opts.signal?.aborted) return Promise.reject(abortError(archivePath, opts.signal));
  const child = spawnTar(['-f', archivePath], 'ignore', opts);
  return collectListing(child, archivePath, onEntry, opts);
}

/** GNU tar listing a tar stream that the caller writes into it (see feedGnuTarListing). */
export interface GnuTarFeed {
  /** Hands the next bytes of the (decompressed) tar stream on; a promise while tar's pipe is full. */
  write(chunk: Buffer): Promise<void> | undefined;
  /** The stream is complete: tar reads to its end. */
  end(): void;
  /** Give up (the other reader failed): tar is killed, `done` rejects. */
  abort(reason: Error): void;
  /** Settles like listWithGnuTar's promise. */
  done: Promise<{ entries: number }>;
}

/**
 * GNU tar's listing of a tar stream we decode ourselves: the restore and the verification
 * decompress an archive once (zlib has checked every member's CRC-32, and the file's sha256 is
 * held against its sidecar) and hand the same bytes to our tar reader and, through a pipe, to
 * GNU tar, so the two tar readers stay independent while the archive is inflated once. `name` is
 * the archive's name for messages.
 */
export function feedGnuTarListing(name: string, onEntry: (e: EntryRecord) => void, opts: GnuTarListOptions = {}): GnuTarFeed {
  const child = spawnTar(['-f', '-'], 'pipe', opts);
  const stdin = child.stdin!;
  // GNU tar stops reading at the end-of-archive blocks; what we write after that (record padding,
  // trailing bytes) meets a closed pipe, which is no error of the listing.
  stdin.on('error', () => undefined);
  let closed = false;
  const gone = new Promise<void>((resolve) => {
    const stop = () => {
      closed = true;
      resolve();
    };
    stdin.once('close', stop);
    child.once('exit', stop);
  });
  const done = collectListing(child, name, onEntry, opts);
  let aborted: Error | undefined;
  done.catch(() => undefined); // observed by the caller; never an unhandled rejection here
  return {
    write(chunk) {
      if (closed || aborted) return undefined;
      if (stdin.write(chunk)) return undefined;
      return Promise.race([new Promise<void>((resolve) => stdin.once('drain', () => resolve())), gone]);
    },
    end() {
      if (!closed) stdin.end();
    },
    abort(reason) {
      aborted = reason;
      if (!closed) stdin.destroy();
      child.kill('SIGKILL');
    },
    done: done.catch((err: Error) => {
      throw aborted ?? err;
    }),
  };
}

function spawnTar(source: string[], stdin: 'ignore' | 'pipe', opts: GnuTarListOptions): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  delete env.TAR_OPTIONS;
  return spawn(opts.tarCommand ?? 'tar', [...LIST_ARGS, ...source], { stdio: [stdin, 'pipe', 'pipe'], env });
}

/** Reads the child's listing line by line into records; settles when it exits (see listWithGnuTar). */
function collectListing(child: ChildProcess, archivePath: string, onEntry: (e: EntryRecord) => void, opts: GnuTarListOptions): Promise<{ entries: number }> {
  const command = opts.tarCommand ?? 'tar';
  const { signal } = opts;
  return new Promise((resolve, reject) => {
    let entries = 0;
    let lineNo = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let failure: Error | undefined;
    let settled = false;

    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ entries });
    };
    // The first failure wins; the child must not run on (and write on) after we gave up on it.
    const fail = (err: Error): void => {
      if (failure) return;
      failure = err;
      child.kill('SIGKILL');
    };
    function onAbort(): void {
      if (signal) fail(abortError(archivePath, signal));
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    const handleLine = (line: Buffer): void => {
      lineNo++;
      let record: EntryRecord | null;
      try {
        record = parseListingLine(line.toString('latin1'));
      } catch (err) {
        fail(new Error(`cannot read line ${lineNo} of GNU tar's listing of ${archivePath}: ${(err as Error).message}: ${showLine(line)}`));
        return;
      }
      if (!record) return;
      entries++;
      try {
        onEntry(record);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    };

    child.stdout!.on('data', (chunk: Buffer) => {
      let start = 0;
      while (!failure) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl === -1) break;
        const piece = chunk.subarray(start, nl);
        const line = pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        handleLine(line);
      }
      if (failure || start === chunk.length) return;
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) {
        fail(new Error(`GNU tar's listing of ${archivePath} has a line longer than ${MAX_LINE_BYTES} bytes (line ${lineNo + 1}): ${showLine(Buffer.concat(pending))}`));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk.subarray(0, MAX_STDERR_BYTES - stderrBytes));
      stderrBytes += chunk.length;
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (failure) return settle(failure); // killing it failed; we gave up on it anyway
      // Spawning failed (no tar at all, or not executable): there is no child to wait for.
      const why = err.code === 'ENOENT' ? 'is GNU tar installed?' : 'could not start it';
      settle(new Error(`cannot list ${archivePath} with GNU tar: running "${command}" failed (${err.message}); ${why}`));
    });
    child.on('close', (code, killedBy) => {
      if (failure) return settle(failure);
      let text = Buffer.concat(stderr).toString('latin1').trim();
      if (stderrBytes > MAX_STDERR_BYTES) text += ' …';
      const said = text ? `: ${text}` : ' (it printed no message)';
      if (code !== 0) {
        const how = code === null ? `was killed by ${killedBy ?? 'a signal'}` : `exited with status ${code}`;
        return settle(new Error(`GNU tar could not list ${archivePath}: it ${how}${said}`));
      }
      // Warnings on stderr (an ignored pax keyword, a lone zero block) do not fail a listing that exited 0.
      if (pendingBytes > 0) {
        return settle(new Error(`GNU tar's listing of ${archivePath} ends inside a line: ${showLine(Buffer.concat(pending))}`));
      }
      settle(undefined);
    });
  });
}

function abortError(archivePath: string, signal: AbortSignal): Error {
  const err = new Error(`listing ${archivePath} with GNU tar was aborted`, { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** A listing line as it can be quoted in a message: printable ASCII as is, any other byte as \xHH; long lines cut. */
function showLine(line: Buffer): string {
  const max = 400;
  let out = '';
  for (const byte of line.subarray(0, max)) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"${line.length > max ? ` … (${line.length} bytes)` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// One line of the listing


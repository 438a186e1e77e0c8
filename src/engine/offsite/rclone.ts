/**
 * rclone as a child process, the transport to any off-site target (S3, SFTP, WebDAV, SMB, B2, …).
 * Its config file (RCLONE_CONFIG, mounted as a secret) is handed to it by path only; we read it
 * solely to know which strings to blank out of its error messages (configSecrets), never to log it.
 */
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { startChild, type Child } from './child.js';

export interface RcloneOptions {
  /** Path of rclone's config file. */
  configFile: string;
  /** rclone's --bwlimit (e.g. "4M", "10M:1M"); undefined = unlimited. */
  bwlimit?: string;
  /** Values of the config file, blanked out of every message (configSecrets). */
  secrets: readonly string[];
}

/** `remote:path` + file name → the object's rclone path. */
export function remotePath(target: string, name: string): string {
  return target.endsWith(':') || target.endsWith('/') ? `${target}${name}` : `${target}/${name}`;
}

/** Every value of the config file's `key = value` lines (the keys and section names are not secret). */
export async function configSecrets(configFile: string): Promise<string[]> {
  const text = await fs.readFile(configFile, 'utf8').catch(() => '');
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*[^#;[\s][^=]*=\s*(.+?)\s*$/.exec(line);
    if (!m) continue;
    values.add(m[1]!);
    // key_pem-like values hold several lines as `\n`: each line is a secret on its own.
    for (const part of m[1]!.split('\\n')) values.add(part);
  }
  return [...values].filter((v) => v.length >= 6);
}

function env(o: RcloneOptions): NodeJS.ProcessEnv {
  return { ...process.env, RCLONE_CONFIG: o.configFile };
}

function common(o: RcloneOptions): string[] {
  return ['--retries', '1', '--low-level-retries', '3', ...(o.bwlimit ? ['--bwlimit', o.bwlimit] : [])];
}

/**
 * The upload half of an rclone `--bwlimit` (`10M:1M` → `10M`, also in each item of a timetable
 * `08:00,512k:1M 19:00,off`). The daemon only uploads, but an encrypted archive reaches it as a
 * download from the worker (http-source.ts): with the whole `UP:DOWN` value, rclone held that
 * transfer to DOWN too, and a `10M:1M` limit sent encrypted copies at 1 MB/s (found by a tester).
 */
export function uploadLimit(bwlimit: string): string {
  return bwlimit
    .trim()
    .split(/\s+/)
    .map((item) => {
      const comma = item.lastIndexOf(',');
      const rate = item.slice(comma + 1);
      return `${item.slice(0, comma + 1)}${rate.split(':')[0]}`;
    })
    .join(' ');
}

/** `rclone cat`: the object's bytes on stdout. */
export function cat(o: RcloneOptions, object: string, signal?: AbortSignal): Child & { stdout: Readable } {
  const child = startChild('rclone', ['cat', ...common(o), object], { env: env(o), stdio: ['ignore', 'pipe', 'pipe'], secrets: o.secrets, signal, what: `download of ${object}` });
  return { ...child, stdout: child.proc.stdout! };
}

export interface RemoteEntry {
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
  Hashes?: Record<string, string>;
}

/**
 * `rclone lsjson` of a directory (or one object); `hashTypes` asks the remote for those of its
 * hashes (each may cost it a full read of the object, so ask only for what will be compared).
 */
export async function lsjson(o: RcloneOptions, target: string, opts: { hashTypes?: string[]; signal?: AbortSignal } = {}): Promise<RemoteEntry[]> {
  const args = ['lsjson', ...common(o), '--files-only', ...(opts.hashTypes ?? []).flatMap((t) => ['--hash-type', t]), target];
  const out = await output(o, args, `listing of ${target}`, opts.signal);
  return JSON.parse(out || '[]') as RemoteEntry[];
}

const hashCache = new Map<string, Promise<string[]>>();

/** The hash types the target's backend computes itself (`rclone backend features`), asked once per process. */
export function backendHashes(o: RcloneOptions, target: string, signal?: AbortSignal): Promise<string[]> {
  const key = `${o.configFile}\u0000${target}`;
  let known = hashCache.get(key);
  if (!known) {
    known = output(o, ['backend', 'features', target], `features of ${target}`, signal).then((text) => {
      const hashes = (JSON.parse(text) as { Hashes?: unknown }).Hashes;
      return Array.isArray(hashes) ? hashes.map(String) : [];
    });
    known.catch(() => hashCache.delete(key));
    hashCache.set(key, known);
  }
  return known;
}

/** Deletes one object; the remote may refuse (object lock, append-only), which rejects. */
export async function deleteFile(o: RcloneOptions, object: string, signal?: AbortSignal): Promise<void> {
  await output(o, ['deletefile', ...common(o), object], `delete of ${object}`, signal);
}

async function output(o: RcloneOptions, args: string[], what: string, signal?: AbortSignal): Promise<string> {
  const child = startChild('rclone', args, { env: env(o), stdio: ['ignore', 'pipe', 'pipe'], secrets: o.secrets, signal, what });
  const chunks: Buffer[] = [];
  child.proc.stdout!.on('data', (c: Buffer) => chunks.push(c));
  await child.done;
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Shared parts of the fault suite (test/faults): a seeded PRNG, deterministic volume content, the
 * byte-exact tree snapshot of test/helpers/tree-snapshot.py (an independent reader, names as bytes),
 * a throwaway redis-server on a free port, the two steps of a restore through the API, and a watch
 * of what BACKUP_DIR and the listing showed while a fault was recovered from.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureRedis, type RedisEndpoint } from '../../src/runtime/embedded-redis.js';
import { createLogger } from '../../src/runtime/logger.js';
import { http } from './service.js';

const execFileP = promisify(execFile);
const SNAPSHOT = path.resolve(import.meta.dirname, 'tree-snapshot.py');

/** mulberry32: a small seeded PRNG, so a run's random choices can be repeated exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes from the PRNG (not compressible). */
export function prngBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(rand() * 4294967296), Math.min(i, n - 4));
  return b;
}

/** Text-like content from the PRNG (compressible, as practice documents are). */
export function prngText(rand: () => number, n: number): string {
  const words = ['Patient', 'Befund', 'Labor', 'Konsultation', 'Rezept', 'Diagnose', 'Elexis', 'Termin', 'Blutdruck', 'Ueberweisung', '2024', 'mg', 'Dr.'];
  let s = '';
  while (s.length < n) s += words[Math.floor(rand() * words.length)] + (rand() < 0.1 ? '\n' : ' ');
  return s.slice(0, n);
}

/** One entry of tree-snapshot.py: path and link target as hex bytes. */
export interface SnapEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  sha256?: string;
  allocated?: number;
  target?: string;
  link_group?: string;
}

/** A byte-exact snapshot of `dir` by tree-snapshot.py (Python's os.fwalk, names as bytes). */
export async function pySnapshot(dir: string): Promise<SnapEntry[]> {
  const { stdout } = await execFileP('python3', [SNAPSHOT, dir], { maxBuffer: 512 * 1024 * 1024 });
  return JSON.parse(stdout) as SnapEntry[];
}

/**
 * The differences between two snapshots, entry by entry (empty when equal), at most `max` of them,
 * names shown decoded. `ignore` drops fields of some entries (e.g. `allocated`, which a restore that
 * writes holes may change).
 */
export function snapshotDiff(
  want: SnapEntry[],
  got: SnapEntry[],
  o: { ignore?: (e: SnapEntry) => readonly (keyof SnapEntry)[]; max?: number } = {},
): string[] {
  const max = o.max ?? 10;
  const show = (hex: string) => JSON.stringify(Buffer.from(hex, 'hex').toString('latin1'));
  const byPath = (l: SnapEntry[]) => new Map(l.map((e) => [e.path, e]));
  const [a, b] = [byPath(want), byPath(got)];
  const out: string[] = [];
  const strip = (e: SnapEntry, ign: Set<string>) => JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => !ign.has(k)).sort()));
  for (const [p, e] of a) {
    if (out.length >= max) break;
    const g = b.get(p);
    if (!g) {
      out.push(`missing ${show(p)}`);
      continue;
    }
    const ign = new Set<string>(o.ignore?.(e) ?? []);
    if (strip(e, ign) !== strip(g, ign)) out.push(`${show(p)} differs: want ${strip(e, ign)}, got ${strip(g, ign)}`);
  }
  for (const p of b.keys()) {
    if (out.length >= max) break;
    if (!a.has(p)) out.push(`unexpected ${show(p)}`);
  }
  return out;
}

export function assertSameSnapshot(want: SnapEntry[], got: SnapEntry[], what: string, ignore?: (e: SnapEntry) => readonly (keyof SnapEntry)[]): void {
  const diff = snapshotDiff(want, got, { ignore });
  assert.deepEqual(diff, [], `${what}:\n${diff.join('\n')}`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A throwaway redis-server of our own (AOF on, everysec, noeviction, data in `dir`) on `port`:
 * never the shared one. Starting it again on the same dir and port replays its AOF.
 */
export async function startOwnRedis(dir: string, port: number): Promise<RedisEndpoint> {
  const r = await ensureRedis({ dataDir: dir, logger: createLogger('silent'), port });
  assert.ok(r.embedded, `something else answers on port ${port}; refusing to use it`);
  return r;
}

export interface RestoreRequestBody {
  id: string;
  token: string;
}

/** POST /api/restores, then confirm it: the restore's job id. */
export async function requestAndConfirm(
  base: string,
  body: { stamp: string; volumes?: string[]; skipSafetyBackup?: boolean },
  token?: string,
): Promise<{ id: string; jobId: string; token: string }> {
  const req = await http(base, 'POST', '/api/restores', body, token);
  assert.equal(req.status, 201, `POST /api/restores: ${JSON.stringify(req.body)}`);
  const conf = await http(base, 'POST', `/api/restores/${req.body.id}/confirm`, { token: req.body.token }, token);
  assert.equal(conf.status, 202, `confirm: ${JSON.stringify(conf.body)}`);
  return { id: req.body.id, jobId: conf.body.jobId, token: req.body.token };
}

/** GET /api/restores/:id until it is completed or failed; polls fast (restores of small archives take ~100 ms). */
export async function restoreFinished(base: string, id: string, timeoutMs = 60_000, token?: string): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await http(base, 'GET', `/api/restores/${id}`, undefined, token);
    if (r.status === 200 && (r.body.state === 'completed' || r.body.state === 'failed')) return r.body;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for restore ${id} to finish`);
}

/** Names in BACKUP_DIR, sorted. */
export async function backupNames(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

const T0 = new Date('2024-03-04T05:06:07Z');

/**
 * A volume whose every byte and time follows from `seed`, so that its archive is the same file in
 * every run: practice-like text documents (deflated), an image of random bytes (stored, as
 * incompressible chunks are), nested and empty directories, a symlink, a private file.
 */
export async function buildSeededVolume(dir: string, seed: number, o: { docs?: number; docBytes?: number; imageBytes?: number } = {}): Promise<void> {
  const rand = prng(seed);
  const docs = o.docs ?? 20;
  await fs.mkdir(path.join(dir, 'docs/2024/03'), { recursive: true });
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  await fs.mkdir(path.join(dir, 'empty'));
  for (let i = 0; i < docs; i++) await fs.writeFile(path.join(dir, `docs/2024/03/befund-${i}.txt`), prngText(rand, o.docBytes ?? 64 * 1024));
  await fs.writeFile(path.join(dir, 'images/scan.dcm'), prngBytes(rand, o.imageBytes ?? 1536 * 1024));
  await fs.writeFile(path.join(dir, 'my.cnf'), '[client]\npassword=x\n', { mode: 0o600 });
  await fs.chmod(path.join(dir, 'my.cnf'), 0o600);
  await fs.symlink('docs/2024/03/befund-0.txt', path.join(dir, 'latest'));
  const files = [...Array(docs).keys()].map((i) => `docs/2024/03/befund-${i}.txt`).concat(['images/scan.dcm', 'my.cnf']);
  for (const [i, f] of files.entries()) await fs.utimes(path.join(dir, f), T0, new Date(T0.getTime() + i * 1000));
  await fs.lutimes(path.join(dir, 'latest'), T0, T0);
  for (const d of ['docs/2024/03', 'docs/2024', 'docs', 'images', 'empty', '.']) await fs.utimes(path.join(dir, d), T0, T0);
}

/** What BACKUP_DIR held and what GET /api/backups listed at one moment. */
export interface BackupSample {
  names: string[];
  listed: { file: string; size: number; sha256: string | null }[];
}

/**
 * Looks at BACKUP_DIR and the API's listing every 25 ms until `stop()`: what an admin could have
 * seen while the service recovered from a fault.
 */
export function watchBackups(backupDir: string, apiUrl: string): { samples: BackupSample[]; stop(): Promise<void> } {
  const samples: BackupSample[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const names = await fs.readdir(backupDir);
      const sets = (await http(apiUrl, 'GET', '/api/backups')).body.sets as { archives: BackupSample['listed'] }[];
      samples.push({ names, listed: sets.flatMap((set) => set.archives) });
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    samples,
    stop: async () => {
      watching = false;
      await loop;
    },
  };
}

/** No sample listed anything but a whole `.tar.gz`, every listing of `file` had its final size and sha256, and no `.partial` is left. */
export async function assertNeverListedHalf(backupDir: string, file: string, samples: readonly BackupSample[]): Promise<void> {
  const st = await fs.stat(path.join(backupDir, file));
  const sum = (await fs.readFile(path.join(backupDir, `${file}.sha256`), 'utf8')).slice(0, 64);
  assert.ok(samples.length > 0);
  for (const s of samples) {
    assert.deepEqual(s.listed.filter((a) => !a.file.endsWith('.tar.gz')), []);
    for (const a of s.listed.filter((x) => x.file === file)) assert.deepEqual([a.size, a.sha256], [st.size, sum], 'a listed archive of the run is complete');
  }
  assert.deepEqual((await fs.readdir(backupDir)).filter((n) => n.includes('.partial')), []);
}

/**
 * Listing one directory of a large archive (issue 15): with the entry index written at archive
 * time, and without one (what a listing would cost if it had to read the archive: our reader's
 * full pass, which is also what building the missing index costs once; GNU tar's `tar -tzf` for
 * comparison). A volume of N documents (default 20,000, 100 per folder, 1-40 KiB each, half of them
 * random bytes like scanned PDFs, half text).
 *
 *   npm run bench:index                20,000 files
 *   npm run bench:index -- 100000      more
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { archiveVolume } from '../src/engine/archive/archive-volume.js';
import { buildEntryIndex } from '../src/engine/entry-index/entry-index.js';
import { listDirectory } from '../src/engine/entry-index/list-directory.js';
import { verifyArchive } from '../src/engine/extract/extract-archive.js';

const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 20_000);
const logger = pino({ level: 'silent' });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-bench-index-'));
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

async function median(runs: number, f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    times.push(ms(t));
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

try {
  const vol = path.join(root, 'vol');
  const backup = path.join(root, 'backup');
  fs.mkdirSync(backup);
  let seed = 1;
  const line = 'Befund: unauffällig. Kontrolle in sechs Monaten empfohlen. ';
  const noise = randomBytes(64 * 1024);
  for (let i = 0; i < count; i++) {
    const dir = path.join(vol, `patient-${String(Math.floor(i / 100)).padStart(5, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const size = 1024 + (seed % (39 * 1024));
    const start = seed % (noise.length - size);
    fs.writeFileSync(path.join(dir, `dokument-${i}.${i % 2 ? 'pdf' : 'txt'}`), i % 2 ? noise.subarray(start, start + size) : line.repeat(Math.ceil(size / line.length)));
  }
  const file = 'docs_2026-12-01-0315.tar.gz';
  const t0 = process.hrtime.bigint();
  const a = await archiveVolume({ volume: 'docs', volumeDir: vol, backupDir: backup, fileName: file, gzipLevel: 5, logger });
  const archiveMs = ms(t0);
  const archivePath = path.join(backup, file);
  const indexFile = `${archivePath}.entries.gz`;
  const expected = { size: a.size, sha256: a.sha256 };
  const dir = 'patient-00100';
  const withIndex = await median(9, () => listDirectory(indexFile, expected, dir, { limit: 200 }));
  const ours = await median(3, () => verifyArchive(archivePath, { logger, onEntry: () => undefined }));
  const gnu = await median(3, async () => execFileSync('tar', ['-tzf', archivePath], { maxBuffer: 1 << 30 }));
  fs.rmSync(indexFile);
  const build = await median(1, () => buildEntryIndex(archivePath, expected, { logger }));
  const report = {
    files: count,
    archiveMiB: +(a.size / 2 ** 20).toFixed(1),
    archiveSeconds: +(archiveMs / 1000).toFixed(2),
    indexKiB: +(fs.statSync(indexFile).size / 1024).toFixed(1),
    listOneDirWithIndexMs: +withIndex.toFixed(1),
    listWithoutIndexOurReaderMs: +ours.toFixed(0),
    listWithoutIndexGnuTarMs: +gnu.toFixed(0),
    buildMissingIndexMs: +build.toFixed(0),
    cores: os.availableParallelism(),
    load: os.loadavg().map((l) => +l.toFixed(2)),
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

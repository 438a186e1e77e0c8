/**
 * Listing one directory of a large archive (issue 15): with the entry index written at archive
 * time, and without one (what a listing would cost if it had to read the archive: our reader's
 * full pass, which is also what building the missing index costs once; GNU tar's `tar -tzf` for
 * comparison). A volume of N documents (default 20,000, 100 per folder, 1-40 KiB each, half of them
 * random bytes like scanned PDFs, half text).
 *
 * Then the same volume in incremental mode (a level 0 and six nights, each adding a folder of 100
 * new documents, changing 20 and deleting 20; on the third night a folder with 100 unchanged
 * documents is renamed): listing a folder as it was at the newest incremental (point-entries.ts:
 * its names from the newest snapshot, its unchanged documents from the archives before), finding
 * one path there (the check before a single-file restore), and what a single-file restore from it
 * costs at least: restoring the whole chain (restore-chain.ts), against extracting the full.
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
import { chainLinkOf, restoreChainOf } from '../src/engine/incremental/chain.js';
import { archiveIncremental } from '../src/engine/incremental/incremental-archive.js';
import { findPointPaths, listPointDirectory } from '../src/engine/incremental/point-entries.js';
import { restoreChain } from '../src/engine/incremental/restore-chain.js';
import { verifyVolumeArchive } from '../src/engine/verify/archive-verification.js';

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

  // Incremental mode: a level 0, then six nights of change.
  const inc = path.join(root, 'inc');
  fs.mkdirSync(inc);
  let newest = '';
  const folders = Math.ceil(count / 100);
  for (let night = 0; night <= 6; night++) {
    if (night > 0) {
      const d = path.join(vol, `night-${night}`);
      fs.mkdirSync(d);
      for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(d, `neu-${i}.pdf`), noise.subarray(i * 100, i * 100 + 20_000));
      const f = path.join(vol, `patient-${String((night * 7) % folders).padStart(5, '0')}`);
      const names = fs.readdirSync(f).sort();
      for (const n of names.slice(0, 20)) fs.appendFileSync(path.join(f, n), ' Nachtrag.');
      for (const n of names.slice(20, 40)) fs.rmSync(path.join(f, n));
      if (night === 3) fs.renameSync(path.join(vol, dir), path.join(vol, `${dir}-archiviert`));
    }
    const fileName = `docs_2026-12-0${night + 1}-0315${night === 0 ? '' : '.inc'}.tar.gz`;
    const base = night === 0 ? undefined : await chainLinkOf(inc, newest);
    if (base && 'reason' in base) throw new Error(base.reason);
    await archiveIncremental({ volume: 'docs', volumeDir: vol, backupDir: inc, fileName, level: night, base: base?.link, basedOn: base?.chain ?? [], gzipLevel: 5, logger });
    newest = fileName;
  }
  const chain = await restoreChainOf(inc, newest);
  const renamed = `${dir}-archiviert`;
  const page = await listPointDirectory(inc, chain, renamed, { limit: 200, logger });
  if (page.entries.length !== 100) throw new Error(`the renamed folder lists ${page.entries.length} entries, not 100`);
  const pointList = await median(9, () => listPointDirectory(inc, chain, renamed, { limit: 200, logger }));
  const pointChanged = await median(9, () => listPointDirectory(inc, chain, `patient-${String(21 % folders).padStart(5, '0')}`, { limit: 200, logger }));
  const pointFind = await median(9, () => findPointPaths(inc, chain, [`${renamed}/${page.entries[0]!.name}`], { logger }));
  const chainTo = (n: number) => path.join(root, `restored-${n}`);
  let runs = 0;
  const restoreChainMs = await median(3, () => restoreChain({ files: chain.map((f) => path.join(inc, f)), stagingDir: chainTo(runs++), logger }).then(() => fs.rmSync(chainTo(runs - 1), { recursive: true })));
  const restoreFullMs = await median(3, () =>
    verifyVolumeArchive(path.join(inc, chain[0]!), { logger, extractTo: chainTo(runs++) }).then(() => fs.rmSync(chainTo(runs - 1), { recursive: true })),
  );

  const report = {
    files: count,
    archiveMiB: +(a.size / 2 ** 20).toFixed(1),
    archiveSeconds: +(archiveMs / 1000).toFixed(2),
    indexKiB: +(fs.statSync(indexFile).size / 1024).toFixed(1),
    listOneDirWithIndexMs: +withIndex.toFixed(1),
    listWithoutIndexOurReaderMs: +ours.toFixed(0),
    listWithoutIndexGnuTarMs: +gnu.toFixed(0),
    buildMissingIndexMs: +build.toFixed(0),
    incrementalChain: chain.length,
    listRenamedFolderAtNewestIncrementalMs: +pointList.toFixed(1),
    listChangedFolderAtNewestIncrementalMs: +pointChanged.toFixed(1),
    findOnePathAtNewestIncrementalMs: +pointFind.toFixed(1),
    restoreWholeChainMs: +restoreChainMs.toFixed(0),
    extractItsFullMs: +restoreFullMs.toFixed(0),
    cores: os.availableParallelism(),
    load: os.loadavg().map((l) => +l.toFixed(2)),
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

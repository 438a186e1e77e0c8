import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { archiveVolume } from '../src/engine/archive/archive-volume.js';
import { verifyVolumeArchive } from '../src/engine/verify/archive-verification.js';
import { extractArchive } from '../src/engine/extract/extract-archive.js';

const logger = pino({ level: 'warn' });
const data = path.resolve('bench/data/1000mib');
const arch = path.resolve('bench/data/zz-arch');
const out = process.env.ZZ_OUT ?? path.resolve('bench/data/zz-out');
const mode = process.argv[2]!;
const vols = (process.argv[3] ?? 'pacsdata,lucinda,elexisdb').split(',');
const sync = () => spawnSync('sync');
const t = () => performance.now();
fs.mkdirSync(arch, { recursive: true });
for (const v of vols) {
  const file = path.join(arch, `${v}.tar.gz`);
  if (!fs.existsSync(file)) {
    await archiveVolume({ volume: v, volumeDir: path.join(data, v), backupDir: arch, fileName: `${v}.tar.gz`, gzipLevel: 6, logger });
  }
}
for (const v of vols) {
  const file = path.join(arch, `${v}.tar.gz`);
  fs.rmSync(out, { recursive: true, force: true });
  if (mode === 'tar') fs.mkdirSync(out);
  sync();
  const t0 = t();
  let extra = '';
  if (mode === 'tar') {
    spawnSync('tar', ['-C', out, '-xzf', file]);
  } else if (mode === 'full') {
    await verifyVolumeArchive(file, { logger, extractTo: out, writers: { threads: 2 } });
  } else {
    const wb = mode.includes('nowb') ? 0 : mode.includes('wb256') ? 256 * 1024 * 1024 : mode.includes('wb128') ? 128 * 1024 * 1024 : undefined;
    const threads = mode.includes('nothr') ? 0 : 2;
    const r = await extractArchive(file, out, { logger, writers: { threads }, writebackEveryBytes: wb });
    extra = `threaded ${r.threadedFiles}`;
  }
  const t1 = t();
  spawnSync('sync', ['-f', out]);
  const t2 = t();
  console.log(`${mode} ${v}: extract ${((t1 - t0) / 1000).toFixed(2)} s + sync ${((t2 - t1) / 1000).toFixed(2)} s ${extra}`);
}
fs.rmSync(out, { recursive: true, force: true });

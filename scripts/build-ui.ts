/**
 * `npm run build:ui` (part of `npm run build`): bundles the backup screens (ui/) with esbuild into
 * dist/ui — index.html, app.js, app.css — which the API serves at `/` (src/api/ui.ts). Preact and
 * cronstrue (with its German locale) are bundled in; nothing is loaded from elsewhere at run time.
 * Each file is written to a temp name and renamed, so a running service never serves half a file.
 * Prints what the page weighs, raw and gzipped.
 */
import { build } from 'esbuild';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(import.meta.dirname, '..');
const OUT = path.join(ROOT, 'dist/ui');

export async function buildUi(out = OUT): Promise<{ file: string; bytes: number; gzip: number }[]> {
  const result = await build({
    entryPoints: { app: path.join(ROOT, 'ui/main.tsx') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: out,
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = [
    ...result.outputFiles.map((f) => ({ name: path.basename(f.path), data: Buffer.from(f.contents) })),
    { name: 'index.html', data: await fs.readFile(path.join(ROOT, 'ui/index.html')) },
  ];
  await fs.mkdir(out, { recursive: true });
  for (const f of files) {
    const tmp = path.join(out, `.${f.name}.${process.pid}.tmp`);
    await fs.writeFile(tmp, f.data);
    await fs.rename(tmp, path.join(out, f.name));
  }
  return files.map((f) => ({ file: f.name, bytes: f.data.length, gzip: gzipSync(f.data, { level: 9 }).length }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = await buildUi();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const s of sizes) console.log(`dist/ui/${s.file}: ${kb(s.bytes)} (${kb(s.gzip)} gzipped)`);
  const total = sizes.reduce((a, s) => ({ bytes: a.bytes + s.bytes, gzip: a.gzip + s.gzip }), { bytes: 0, gzip: 0 });
  console.log(`the backup screens weigh ${kb(total.bytes)} (${kb(total.gzip)} gzipped)`);
}

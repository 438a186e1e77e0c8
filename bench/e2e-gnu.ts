/**
 * What an admin would run by hand, on the same data and the same disk, timed as wall seconds of the
 * command (after a `sync`, like every measured step of the end-to-end bench): GNU tar (gzip -6),
 * `tar | pigz` when pigz is installed (optional: its rows are left out otherwise), and for the
 * verification `tar -tzf` plus `sha256sum` of the same archive.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const havePigz = spawnSync('pigz', ['--version'], { stdio: 'ignore' }).status === 0;

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Wall seconds of one shell command (with pipefail), at the given niceness; throws when it fails. */
function timed(script: string, nice: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const cmd = nice > 0 ? ['nice', '-n', String(nice), 'bash', '-c', `set -o pipefail; ${script}`] : ['bash', '-c', `set -o pipefail; ${script}`];
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      if (code === 0) resolve(seconds);
      else reject(new Error(`${script} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

export function syncDisk(): void {
  spawnSync('sync');
}

export interface GnuTools {
  /** `tar -C <vol> -czf <out> .` */
  tarCreate(volumeDir: string, out: string): Promise<number>;
  /** `tar -C <vol> -cf - . | pigz > <out>` */
  pigzCreate(volumeDir: string, out: string): Promise<number>;
  /**
   * `tar -C <dest> -xzf <archive>` into a fresh directory; `sync`: the `sync` right after it (our
   * restore has its data on disk before it says completed); `remove`: `rm -rf` of that directory
   * afterwards, which is what deleting a volume's previous data of the same shape costs — a
   * restore by hand onto a volume (README, emergency procedure) is rm -rf + tar -xzf + sync.
   */
  tarExtract(archive: string, dest: string): Promise<{ extract: number; sync: number; remove: number }>;
  /** `tar -tzf <archive> >/dev/null` and `sha256sum <archive>`, one after the other: both seconds. */
  tarVerify(archive: string): Promise<{ list: number; sha256: number }>;
}

export function gnuTools(nice: number): GnuTools {
  const run = async (script: string) => {
    syncDisk();
    return timed(script, nice);
  };
  return {
    tarCreate: (vol, out) => run(`tar -C ${q(vol)} -czf ${q(out)} .`),
    pigzCreate: (vol, out) => run(`tar -C ${q(vol)} -cf - . | pigz > ${q(out)}`),
    async tarExtract(archive, dest) {
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(dest, { recursive: true });
      try {
        const extract = await run(`tar -C ${q(dest)} -xzf ${q(archive)}`);
        const sync = await timed('sync', 0);
        return { extract, sync, remove: await timed(`rm -rf ${q(dest)}`, nice) };
      } finally {
        fs.rmSync(dest, { recursive: true, force: true });
        syncDisk();
      }
    },
    async tarVerify(archive) {
      const list = await run(`tar -tzf ${q(archive)} >/dev/null`);
      const sha256 = await run(`sha256sum ${q(archive)} >/dev/null`);
      return { list, sha256 };
    },
  };
}

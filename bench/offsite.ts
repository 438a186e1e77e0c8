/**
 * Off-site copy throughput (issue 14): our copy (plain: rclone, as the copy's daemon, reads the file while we
 * hash it; encrypted: age's output through our hashes into `rclone rcat`; verified on the target
 * either way) against plain `rclone copy` of the same file, to an SFTP
 * target on this machine (a real sshd, started here on a free port, as in the tests). The file is
 * random data, like an archive (incompressible). Each run is timed with its own /usr/bin/time, so
 * the peak RSS is that of the largest process of the run (node, rclone or age). CPU s: the whole
 * machine's CPU time during the run (/proc/stat), the SFTP server's included.
 *
 *   npm run bench:offsite              300 MiB, 3 repetitions
 *   npm run bench:offsite -- 1000 --reps=2
 *   npm run bench:offsite -- 300 --target-dir=/dev/shm    the SFTP server's files on tmpfs
 *
 * --target-dir: where the SFTP server keeps what it receives (default: beside the source, in the
 * temp directory). A real target writes on its own disk with its own CPU; on this machine its
 * writeback runs on the same two cores and made single runs swing by ±50 %, so a tmpfs target
 * measures the copy with less of that noise.
 *
 * Goals: ≥ 0.9× the throughput of `rclone copy` plain, ≥ 0.8× with encryption. Also timed: an
 * encrypted copy by hand, `age | rclone rcat`, which checks nothing on the target.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendHashes, configSecrets } from '../src/engine/offsite/rclone.js';
import { copyArchive } from '../src/engine/offsite/copy-archive.js';
import { rcloneConfig, startSftpServer } from '../test/helpers/offsite-servers.js';

const here = fileURLToPath(import.meta.url);

async function child(): Promise<void> {
  // bench/offsite.ts --child <config> <target> <dir> <file> <recipient|->
  const [, , , configFile, target, dir, file, recipient] = process.argv;
  const rclone = { configFile: configFile!, secrets: await configSecrets(configFile!) };
  // A worker asks each target for its hash types once, at its start (probeTargets in jobs/copy-job.ts).
  await backendHashes(rclone, target!);
  const started = process.hrtime.bigint();
  await copyArchive({ rclone, target: target!, backupDir: dir!, file: file!, recipients: recipient === '-' ? [] : [recipient!] });
  // The copy's own time, as in a running worker (node and tsx starting are not part of a copy job).
  console.log(JSON.stringify({ copyS: Number(process.hrtime.bigint() - started) / 1e9 }));
}

/**
 * CPU time of the whole machine so far (seconds, all cores): the SFTP server runs on the same two
 * cores, so what a copy costs in CPU (ours, rclone's, age's, sshd's) is what limits it here.
 */
function busyCoreSeconds(): number {
  const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = ticks[3]! + ticks[4]!;
  return (ticks.reduce((a, b) => a + b, 0) - idle) / 100;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { s: number; rssMiB: number; coreS: number } {
  // The previous run's gigabyte still being written back would slow this one down: flush it first.
  execFileSync('sync');
  const busy = busyCoreSeconds();
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const coreS = busyCoreSeconds() - busy;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const kib = Number(r.stderr.trim().split('\n').pop());
  const own = /\{"copyS":([\d.]+)\}/.exec(r.stdout ?? '');
  return { s: own ? Number(own[1]) : wall, rssMiB: kib / 1024, coreS };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child();
  const sizeMiB = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 300);
  const reps = Number(/^--reps=(\d+)$/.exec(process.argv.slice(2).find((a) => a.startsWith('--reps=')) ?? '')?.[1] ?? 3);
  const targetBase = /^--target-dir=(.+)$/.exec(process.argv.slice(2).find((a) => a.startsWith('--target-dir=')) ?? '')?.[1];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oob-bench-offsite-'));
  const targetWork = targetBase ? fs.mkdtempSync(path.join(targetBase, 'oob-bench-offsite-target-')) : work;
  const sftp = await startSftpServer(targetWork);
  try {
    const config = await rcloneConfig(path.join(work, 'rclone.conf'), [sftp]);
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const file = 'pacsdata_2026-12-01-0315.tar.gz';
    execFileSync('sh', ['-c', `head -c ${sizeMiB}M /dev/urandom > ${file} && sha256sum ${file} > ${file}.sha256`], { cwd: src });
    const identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const recipient = /public key: (age1\S+)/.exec(identity)![1]!;
    const env = { ...process.env, RCLONE_CONFIG: config };
    // By hand, an encrypted copy is age piped into rclone (no check of the object on the target).
    const encryptedSize = execFileSync('sh', ['-c', `age -r ${recipient} ${file} | wc -c`], { cwd: src, encoding: 'utf8' }).trim();
    const runs: Record<string, { s: number; rssMiB: number; coreS: number }[]> = { 'rclone copy': [], ours: [], 'age, then rclone rcat (by hand)': [], 'ours + age': [] };
    for (let i = 0; i < reps; i++) {
      const dest = (name: string) => `${sftp.name}:${path.join(sftp.dir, `${name}-${i}`)}`;
      runs['rclone copy']!.push(timed('rclone', ['copy', path.join(src, file), dest('rclone')], env));
      runs.ours!.push(timed(process.execPath, ['--import', 'tsx', here, '--child', config, dest('ours'), src, file, '-'], env));
      runs['age, then rclone rcat (by hand)']!.push(timed('sh', ['-c', `age -r ${recipient} ${path.join(src, file)} | rclone rcat --size ${encryptedSize} ${dest('hand')}/${file}.age`], env));
      runs['ours + age']!.push(timed(process.execPath, ['--import', 'tsx', here, '--child', config, dest('age'), src, file, recipient], env));
      fs.rmSync(sftp.dir, { recursive: true, force: true });
      fs.mkdirSync(sftp.dir);
    }
    const base = median(runs['rclone copy']!.map((r) => r.s));
    console.log(`\nOff-site copy to a local SFTP target (its files in ${targetBase ?? os.tmpdir()}), ${sizeMiB} MiB, ${reps} repetition(s), medians; ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(2)}, ${new Date().toISOString()}`);
    // CPU s: the whole machine's (both cores, the SFTP server's included), median per run.
    console.log('| tool | s | MiB/s | × rclone copy | CPU s (machine) | runs s | peak RSS MiB |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, rs] of Object.entries(runs)) {
      const s = median(rs.map((r) => r.s));
      const all = rs.map((r) => r.s.toFixed(1)).join(' ');
      console.log(`| ${name} | ${s.toFixed(2)} | ${(sizeMiB / s).toFixed(0)} | ${(base / s).toFixed(2)} | ${median(rs.map((r) => r.coreS)).toFixed(1)} | ${all} | ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(0)} |`);
    }
  } finally {
    await sftp.stop();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(targetWork, { recursive: true, force: true });
  }
}

await main();

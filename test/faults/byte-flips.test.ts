/**
 * Fault: archives damaged after they were written. A good archive of the service (its own writer:
 * parallel gzip members, GNU tar format, .sha256 and manifest beside it) gets one byte flipped at a
 * random offset, 100 times, from a seeded PRNG (FAULT_SEED), over a volume whose content follows
 * from the same seed, so the run is repeatable byte for byte. Each damaged archive must be
 *   - refused by verification (verifyVolumeArchive, what the verify job and every restore run), and
 *   - refused by a restore through the API (POST /api/restores + confirm, with the default safety
 *     backup) before live data is touched: the volume is byte-identical afterwards (tree-snapshot.py),
 *     and no safety backup or anything else appeared in BACKUP_DIR.
 * The layer that stopped each one is counted (first to report: our reader's gunzip, its tar parse,
 * the sha256 against the sidecar, GNU tar's cross-reading, the manifest).
 *
 * Then an attacker who rewrites the sidecars too (.sha256 and the manifest's sha256 and size
 * recomputed for the damaged bytes): the gzip, tar, GNU tar and manifest layers must catch the flip,
 * or else the restore must bring back exactly the original content (a flip in bytes no reader uses,
 * such as a gzip header's MTIME or OS byte).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyVolumeArchive } from '../../src/engine/verify/archive-verification.js';
import { createLogger } from '../../src/runtime/logger.js';
import {
  assertSameSnapshot,
  backupNames,
  buildSeededVolume,
  prng,
  pySnapshot,
  requestAndConfirm,
  restoreFinished,
  type SnapEntry,
} from '../helpers/faults.js';
import { http, makeFixture, startService, waitForJobsSettled, type Fixture, type Service } from '../helpers/service.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { exec } from '../helpers/volumes.js';

const SEED = Number(process.env.FAULT_SEED ?? 20261201);
const FLIPS = 100;
const ATTACKER_FLIPS = 12;
const VOLUME = 'elexisdb';
const silent = createLogger('silent');

/** The layer that stopped a damaged archive, from verifyVolumeArchive's message. */
function layerOf(message: string): string {
  if (message.startsWith('GNU tar')) return 'GNU tar cross-check';
  if (/^checksum mismatch/.test(message)) return 'sha256';
  if (/sidecar .* and the manifest .* disagree/.test(message)) return 'sidecar vs manifest';
  if (/gzip/.test(message)) return 'gzip';
  if (/does not match its manifest/.test(message)) return 'manifest';
  if (/^(archive is (corrupt|truncated)|hostile archive entry|archive \S+ (has|contains|stores))/.test(message)) return 'tar parse';
  return `other (${message})`;
}

function count(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of list) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** Whether a command exits 0. */
async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return true;
  } catch {
    return false;
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe(`byte flips in an archive (seed ${SEED})`, () => {
  let fx: Fixture;
  let svc: Service;
  let stamp: string;
  let file: string;
  let archivePath: string;
  let good: Buffer;
  let goodSidecar: string;
  let goodManifest: Record<string, unknown>;
  let original: SnapEntry[];
  const vol = () => path.join(fx.volumesDir, VOLUME);
  const rand = prng(SEED ^ 0x5eed);

  /** The good archive with the byte at `offset` XORed with a random nonzero byte (so it always changes). */
  function flipAt(offset: number): Buffer {
    const bytes = Buffer.from(good);
    bytes[offset] = bytes[offset]! ^ (1 + Math.floor(rand() * 255));
    return bytes;
  }
  /** One flip at a random offset. */
  function flip(): { bytes: Buffer; offset: number } {
    const offset = Math.floor(rand() * good.length);
    return { offset, bytes: flipAt(offset) };
  }
  /** Data written after the backup: what a restore would delete, and a refused one must keep. */
  async function userChanges(n: number): Promise<void> {
    await fs.writeFile(path.join(vol(), 'written-after-backup.txt'), `new data ${n}\n`);
  }
  async function verify(): Promise<string | null> {
    try {
      await verifyVolumeArchive(archivePath, { logger: silent });
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  before(async () => {
    fx = await makeFixture();
    await buildSeededVolume(vol(), SEED, { docs: 12, docBytes: 32 * 1024, imageBytes: 512 * 1024 });
    svc = await startService('start', fx.env);
    const run = await http(svc.url, 'POST', '/api/backups', {});
    assert.equal(run.status, 202, JSON.stringify(run.body));
    stamp = run.body.stamp;
    const jobs = await waitForJobsSettled(svc.url, undefined, 60_000);
    assert.deepEqual(jobs.filter((j) => j.state !== 'completed'), []);
    file = `${VOLUME}_${stamp}.tar.gz`;
    archivePath = path.join(fx.backupDir, file);
    good = await fs.readFile(archivePath);
    goodSidecar = await fs.readFile(`${archivePath}.sha256`, 'utf8');
    goodManifest = JSON.parse(await fs.readFile(`${archivePath}.manifest.json`, 'utf8'));
    assert.equal(goodSidecar.slice(0, 64), sha256(good));
    // The verify job's outcome is about the good file; the damaged ones get no verify job.
    await fs.rm(`${archivePath}.verify.json`, { force: true });
    original = await pySnapshot(vol());
  });
  after(async () => {
    await svc?.stop();
    await fx?.cleanup();
  });

  it(`detects each of ${FLIPS} flips, and a restore of it fails before live data is touched`, async (t) => {
    t.diagnostic(`archive ${file}: ${good.length} bytes, sha256 ${sha256(good)}`);
    await userChanges(0);
    const live = await snapshotTree(vol());
    const liveExact = await pySnapshot(vol());
    const backupBefore = await backupNames(fx.backupDir);
    const layers: string[] = [];
    const alone = { sha256: 0, gzipT: 0, gnuTar: 0 };
    for (let i = 0; i < FLIPS; i++) {
      const { bytes, offset } = flip();
      await fs.writeFile(archivePath, bytes);
      // The service's verification, and on their own: the checksum, GNU gzip, GNU tar.
      const [message, gzipOk, tarOk] = await Promise.all([verify(), succeeds('gzip', ['-t', archivePath]), succeeds('tar', ['-tzf', archivePath])]);
      if (sha256(bytes) !== goodSidecar.slice(0, 64)) alone.sha256++;
      if (!gzipOk) alone.gzipT++;
      if (!tarOk) alone.gnuTar++;
      assert.ok(message !== null, `flip ${i} at offset ${offset} was not detected by verification`);
      const layer = layerOf(message);
      assert.doesNotMatch(layer, /^other/, `flip ${i} at offset ${offset}: unexpected message`);
      layers.push(layer);

      const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME] });
      const done = await restoreFinished(svc.url, r.id);
      assert.equal(done.state, 'failed', `flip ${i} at offset ${offset}: the restore ${done.state}`);
      assert.match(done.failedReason, /failed verification, nothing was changed/, `flip ${i}: ${JSON.stringify(done)}`);
      assertSameTree(live, await snapshotTree(vol()));
      assert.deepEqual(await backupNames(fx.backupDir), backupBefore, `flip ${i}: BACKUP_DIR changed (a safety backup was made?)`);
    }
    assertSameSnapshot(liveExact, await pySnapshot(vol()), `the volume after ${FLIPS} refused restores`);
    t.diagnostic(
      `${FLIPS} byte flips: ${layers.length} detected, ${FLIPS} restores refused before live data was touched; ` +
        `first to report: ${JSON.stringify(count(layers))}; each on its own would have caught: ${JSON.stringify(alone)}`,
    );
    assert.equal(layers.length, FLIPS);
  });

  it(`with the sidecars rewritten too (every gzip header byte and ${ATTACKER_FLIPS} random flips): caught by gzip, tar, GNU tar or the manifest, or restored exactly`, async (t) => {
    const outcomes: string[] = [];
    await userChanges(1000);
    let live = await snapshotTree(vol());
    // Every byte of the first gzip member's header (magic, flags, MTIME, XFL, OS, our member index),
    // then random offsets.
    const header = [...Array(24).keys()].map((offset) => ({ offset, bytes: flipAt(offset) }));
    const random = [...Array(ATTACKER_FLIPS)].map(() => flip());
    for (const [i, { bytes, offset }] of [...header, ...random].entries()) {
      const sum = sha256(bytes);
      await fs.writeFile(archivePath, bytes);
      await fs.writeFile(`${archivePath}.sha256`, `${sum}  ${file}\n`);
      await fs.writeFile(`${archivePath}.manifest.json`, JSON.stringify({ ...goodManifest, sha256: sum, size: bytes.length }, null, 2));
      const message = await verify();
      const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
      const done = await restoreFinished(svc.url, r.id);
      if (message !== null) {
        const layer = layerOf(message);
        assert.doesNotMatch(layer, /^other|sha256|sidecar/, `flip ${i} at offset ${offset}: ${message}`);
        outcomes.push(layer);
        assert.equal(done.state, 'failed', `flip ${i} at offset ${offset}: detected, but the restore ${done.state}`);
        assert.match(done.failedReason, /failed verification, nothing was changed/);
        assertSameTree(live, await snapshotTree(vol()));
      } else {
        // Not detected: then the content must be exactly the original (the flip hit bytes no reader uses).
        outcomes.push(`undetected, restored exactly (offset ${offset})`);
        assert.equal(done.state, 'completed', `flip ${i} at offset ${offset}: ${done.failedReason}`);
        assertSameSnapshot(original, await pySnapshot(vol()), `flip ${i} at offset ${offset}: restored content differs`, () => ['allocated']);
        await userChanges(2000 + i);
        live = await snapshotTree(vol());
      }
    }
    const undetected = outcomes.filter((o) => o.startsWith('undetected')).map((o) => /offset (\d+)/.exec(o)![1]);
    t.diagnostic(
      `${outcomes.length} flips with recomputed sidecars: ${JSON.stringify(count(outcomes.map((o) => o.replace(/ \(offset \d+\)/, ''))))}; ` +
        `undetected and restored exactly at offsets ${undetected.join(', ') || 'none'}`,
    );
    assert.equal(outcomes.length, header.length + ATTACKER_FLIPS);
  });

  it('the good archive itself still verifies and restores exactly (the check above can tell)', async () => {
    await fs.writeFile(archivePath, good);
    await fs.writeFile(`${archivePath}.sha256`, goodSidecar);
    await fs.writeFile(`${archivePath}.manifest.json`, `${JSON.stringify(goodManifest, null, 2)}\n`);
    assert.equal(await verify(), null);
    await userChanges(9999);
    const r = await requestAndConfirm(svc.url, { stamp, volumes: [VOLUME], skipSafetyBackup: true });
    const done = await restoreFinished(svc.url, r.id);
    assert.equal(done.state, 'completed', done.failedReason);
    assertSameSnapshot(original, await pySnapshot(vol()), 'restored content', () => ['allocated']);
  });
});

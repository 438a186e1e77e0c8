/**
 * An archive is the set its name says it is: one renamed (or copied over another set's name)
 * together with its sidecars still carries its own manifest, which names it, and fails
 * verification, so a restore of a set never extracts another set's archive.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';
import { verifyVolumeArchive } from '../../src/engine/verify/archive-verification.js';

const silent = pino({ level: 'silent' });
let work = '';

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'oob-archive-names-'));
});
after(() => rm(work, { recursive: true, force: true }));

describe('an archive under another name', () => {
  it('verifies under its own name and fails, naming the other, when renamed with its sidecars', async () => {
    const vol = path.join(work, 'vol');
    const backup = path.join(work, 'backup');
    await mkdir(vol);
    await mkdir(backup);
    await writeFile(path.join(vol, 'Befund.txt'), 'alt\n');
    const older = 'lucindadata_2026-11-20-0315.tar.gz';
    const newer = 'lucindadata_2026-11-21-0315.tar.gz';
    const r = await archiveVolume({ volume: 'lucindadata', volumeDir: vol, backupDir: backup, fileName: older, gzipLevel: 1, logger: silent });
    await verifyVolumeArchive(r.path, { logger: silent });
    for (const name of await readdir(backup)) await rename(path.join(backup, name), path.join(backup, name.replace(older, newer)));
    await assert.rejects(
      verifyVolumeArchive(path.join(backup, newer), { logger: silent }),
      new RegExp(`the archive's manifest belongs to "${older.replace(/\./g, '\\.')}": this is another archive under this name`),
    );
  });
});

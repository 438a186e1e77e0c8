/**
 * Archives one volume in a child process and prints the outcome as JSON, so a test can run the
 * archive writer as another user (`setpriv --reuid=65534 …`): as root every file is readable.
 * Usage: node --import tsx archive-child.ts <volumeDir> <backupDir>
 */
import { pino } from 'pino';
import { archiveVolume } from '../../src/engine/archive/archive-volume.js';

const [volumeDir, backupDir] = process.argv.slice(2) as [string, string];
try {
  const r = await archiveVolume({ volume: 'vol', volumeDir, backupDir, fileName: 'vol.tar.gz', gzipLevel: 1, logger: pino({ level: 'silent' }) });
  console.log(JSON.stringify({ ok: true, warnings: r.warnings, entries: r.entries }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: (err as Error).message }));
}

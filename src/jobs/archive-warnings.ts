/**
 * What an archive's manifest says it could not hold as it was (its warnings: a FIFO or device node
 * left out, a file that vanished or changed while it was read). A restore replaces the whole
 * volume, so such an entry is not in the restored volume, and whatever stood there live is gone
 * too: the restore's summary says so, instead of only the archive job's log of long ago.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_SUFFIX } from '../engine/manifest-notes.js';

/** How many of the archive's own messages the summary quotes. */
const QUOTED = 3;

/** One sentence for a volume whose archives (a chain: the full, then its incrementals) have warnings, else undefined. */
export async function archiveWarnings(volume: string, archives: readonly string[]): Promise<string | undefined> {
  let count = 0;
  const messages: string[] = [];
  for (const archive of archives) {
    const raw = await fs.readFile(`${archive}${MANIFEST_SUFFIX}`, 'utf8').catch(() => undefined);
    if (!raw) continue;
    const manifest = JSON.parse(raw) as { warnings?: unknown; warningMessages?: unknown };
    if (typeof manifest.warnings !== 'number' || manifest.warnings <= 0) continue;
    count += manifest.warnings;
    if (Array.isArray(manifest.warningMessages)) messages.push(...manifest.warningMessages.filter((m): m is string => typeof m === 'string'));
  }
  if (count === 0) return undefined;
  const quoted = messages.slice(0, QUOTED).join('; ');
  const more = count > QUOTED ? ` and ${count - QUOTED} more` : '';
  return (
    `${volume}: its archive (${archives.map((a) => path.basename(a)).join(', ')}) was written with ${count} warning(s): ${quoted}${more}; ` +
    'what they name is not in the restored volume as it was (FIFOs, device nodes and sockets are never archived), and the live entries are gone'
  );
}

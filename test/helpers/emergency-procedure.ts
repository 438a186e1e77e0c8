/**
 * The README's emergency procedure by hand, as the admin copies it: its shell block, with the
 * variables at its top set for a test (the target, the key, the volume, its directory) and the
 * password prompt of `mariadb -u root -p` replaced by the test server's options. The tests run
 * these very lines, so the README cannot drift from what restores.
 */
import fs from 'node:fs';
import path from 'node:path';

const README = path.join(import.meta.dirname, '..', '..', 'README.md');
const HEADINGS = { en: '### Emergency procedure by hand (English)', de: '### Notfallprozedur von Hand (Deutsch)' };

/** The procedure's shell block in one of the README's languages. */
export function procedureBlock(lang: keyof typeof HEADINGS = 'en'): string {
  const text = fs.readFileSync(README, 'utf8');
  const at = text.indexOf(HEADINGS[lang]);
  if (at < 0) throw new Error(`README has no section "${HEADINGS[lang]}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
  if (!m) throw new Error(`README's "${HEADINGS[lang]}" has no sh block`);
  return m[1]!;
}

export interface ProcedureSettings {
  RCLONE_CONFIG: string;
  T: string;
  KEY: string;
  E: string;
  V?: string;
  DEST?: string;
  DB?: string;
}

/**
 * The block as a bash script, exactly as the README has it (its own first line, `set -euo
 * pipefail`, makes a failing line fail the script, and the test): `part` "volume" is the block's
 * first part, "database" its `set` line, variables and the dump's lines.
 */
export function procedureScript(settings: ProcedureSettings, part: 'volume' | 'database', mariadb = 'mariadb -u root'): string {
  const [volumePart, databasePart] = procedureBlock('en').split('\n\n');
  if (!volumePart || !databasePart) throw new Error("the procedure's block is not a volume part and a database part");
  const header = volumePart.split('\n').filter((l) => /^set /.test(l) || (/^(export )?[A-Z_]+=/.test(l) && !/^(V|DEST)=/.test(l)));
  if (!/^set -euo pipefail\b/.test(volumePart)) throw new Error("the procedure's block does not start with set -euo pipefail");
  let lines = part === 'volume' ? volumePart.split('\n') : [...header, ...databasePart.split('\n')];
  for (const [name, value] of Object.entries(settings)) {
    const re = new RegExp(`^(export )?${name}=`);
    if (!lines.some((l) => re.test(l))) {
      if (part === 'database' && (name === 'V' || name === 'DEST')) continue;
      if (part === 'volume' && name === 'DB') continue;
      throw new Error(`the procedure sets no ${name}`);
    }
    lines = lines.map((l) => (re.test(l) ? `${l.startsWith('export ') ? 'export ' : ''}${name}='${value}'` : l));
  }
  const body = lines.join('\n').split('mariadb -u root -p').join(mariadb);
  return `${body}\n`;
}

/** The block's commands without comments and the config path's example value: the same in both languages. */
export function procedureCommands(lang: keyof typeof HEADINGS): string[] {
  return procedureBlock(lang)
    .split('\n')
    .map((l) => l.replace(/\s+# .*$/, '').replace(/^# .*$/, '').replace(/^export RCLONE_CONFIG=.*/, 'export RCLONE_CONFIG=…'))
    .filter((l) => l.trim() !== '');
}

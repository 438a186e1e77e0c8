/** Who we are, as far as a restore's owners and modes are concerned. */
import fs from 'node:fs';

export const IS_ROOT = process.geteuid?.() === 0;
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

/** Only root can give an entry another owner, and what we create is ours already. */
export function needsChown(uid: number, gid: number): boolean {
  return IS_ROOT && (uid !== EUID || gid !== EGID);
}

/**
 * The process umask from /proc/self/status (reading it with process.umask() would have to set it),
 * or undefined where that is not available: then every file gets an explicit fchmod.
 */
export function readUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m ? parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
}

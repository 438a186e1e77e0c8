/** Who we are, as far as a restore's owners and modes are concerned. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const IS_ROOT = process.geteuid?.() === 0;
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

/** Only root can give an entry another owner, and what we create is ours already. */
export function needsChown(uid: number, gid: number): boolean {
  return IS_ROOT && (uid !== EUID || gid !== EGID);
}

/**
 * What creating an entry in `dir` takes away from the mode asked for, as a umask: usually the
 * process umask, but where `dir` has a default POSIX ACL (a Samba share's documents, say) the umask
 * is not applied and the ACL's entries take bits away instead (acl(5)). Found by making a directory
 * with 0777 there: what it got is what every file and directory made below gets (they inherit the
 * same default ACL), so the restore creates an entry with its final mode only when that mode comes
 * out unchanged, and sets it by fchmod otherwise. An audit found modes narrowed (0755 → 0750,
 * 0644 → 0640) under such an ACL while the restore reported success, where GNU tar's `-p` sets them.
 * Undefined (every entry is then set by an explicit chmod) when the probe cannot be made.
 */
export function creationMask(dir: string): number | undefined {
  const probe = path.join(dir, `.oob-mode-probe-${randomBytes(6).toString('hex')}`);
  try {
    fs.mkdirSync(probe, 0o777);
  } catch {
    return undefined;
  }
  try {
    return 0o777 & ~fs.lstatSync(probe).mode;
  } catch {
    return undefined;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

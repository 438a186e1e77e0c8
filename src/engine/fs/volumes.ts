/**
 * Which volumes exist. With VOLUMES_DIR every subdirectory with a valid volume name is one (in
 * Docker: /mnt/elexisdb, /mnt/lucindadata, ...), and so is a symlink there to a directory
 * (`pacsdata -> /srv/pacs`, the usual set-up without Docker): its directory is the symlink's
 * target, resolved when the volumes are listed, so an archive holds the target's contents and a
 * restore swaps inside the target, leaving the symlink as it is. Anything else there (a file, a
 * dangling symlink, a symlink to a file, to a directory that holds VOLUMES_DIR, or to another
 * volume's directory or one inside it) is no volume, and the listing says why. With VOLUMES the
 * list is explicit, and a listed volume whose directory is missing still counts, so its archive
 * job fails loudly instead of the volume silently dropping out of the backup.
 *
 * Volume names come from requests: they are looked up in Maps or with Object.hasOwn, never as keys
 * of a plain object, where `constructor` or `toString` would be found on its prototype.
 */
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isValidVolumeName } from '../../core/names.js';

/** Where the volumes are: every valid subdirectory of `dir`, or an explicit name → directory list. */
export type VolumeSource = { kind: 'dir'; dir: string } | { kind: 'list'; volumes: Record<string, string> };

/** An entry of VOLUMES_DIR that is no volume, and why ("is a file, not a directory"). */
export interface NotAVolume {
  name: string;
  reason: string;
}

export interface VolumeListing {
  /** Volume name → its directory (a symlinked volume's resolved target). */
  volumes: Record<string, string>;
  /** Directories (or symlinks to one) skipped because their name is not a valid volume name. */
  skipped: string[];
  /** Other entries of VOLUMES_DIR, which are no volume: files, symlinks into another volume, ... */
  notVolumes: NotAVolume[];
  /**
   * Symlinks with a volume's name that lead nowhere (their target missing, not a directory, a
   * loop): volumes that cannot be reached, e.g. a disk that is not mounted. They are in `volumes`
   * (under the symlink's own path), so that a run's archive of them fails and alerts, and the
   * overdue check counts them; left out, such a volume dropped out of the backups without a word
   * (found by a tester). Removing the symlink retires the volume.
   */
  unreachable: NotAVolume[];
}

/**
 * The volumes of `source`. `logger`: entries that are no volume are logged as a warning, and
 * symlinked volumes with their target as info, each once per process (the screen polls this).
 */
export async function listVolumes(source: VolumeSource, logger?: Logger): Promise<VolumeListing> {
  if (source.kind === 'list') return { volumes: { ...source.volumes }, skipped: [], notVolumes: [], unreachable: [] };
  let entries: Dirent[];
  try {
    entries = await fs.readdir(source.dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`cannot read VOLUMES_DIR ${source.dir}: ${(err as Error).message}`, { cause: err });
  }
  const found = new Map<string, string>();
  const skipped: string[] = [];
  const notVolumes: NotAVolume[] = [];
  const unreachable: NotAVolume[] = [];
  const links: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isSymbolicLink()) links.push(e.name);
    else if (!e.isDirectory()) notVolumes.push({ name: e.name, reason: e.isFile() ? 'is a file, not a directory' : 'is not a directory' });
    else if (isValidVolumeName(e.name)) found.set(e.name, path.join(source.dir, e.name));
    else skipped.push(e.name);
  }
  // After the real directories: a symlink never takes the place of one.
  const linked = links.length > 0 ? await addLinkedVolumes(source.dir, links, found, skipped, notVolumes, unreachable) : new Map<string, string>();
  if (logger) report(logger, source.dir, linked, notVolumes, unreachable);
  const volumes = Object.fromEntries([...found].sort(([a], [b]) => a.localeCompare(b)));
  return { volumes, skipped, notVolumes, unreachable };
}

/**
 * Adds the symlinks to directories among `links` to `found` (name → resolved target); the others go
 * to `skipped` or `notVolumes`. Returns the symlinked volumes it added.
 */
async function addLinkedVolumes(
  dir: string,
  links: string[],
  found: Map<string, string>,
  skipped: string[],
  notVolumes: NotAVolume[],
  unreachable: NotAVolume[],
): Promise<Map<string, string>> {
  const root = await fs.realpath(dir);
  const dirs = [...found.keys()].map((name) => ({ name, dir: path.join(root, name), real: true }));
  for (const name of links) {
    const link = await resolveLink(path.join(dir, name));
    if ('reason' in link && isValidVolumeName(name)) {
      unreachable.push({ name, reason: link.reason });
      found.set(name, path.join(dir, name));
    } else if ('reason' in link) notVolumes.push({ name, reason: link.reason });
    else if (!isValidVolumeName(name)) skipped.push(name);
    // It would hold every volume (and itself), and its restore would replace them all.
    else if (within(root, link.target)) notVolumes.push({ name, reason: `is a symlink to ${link.target}, which holds VOLUMES_DIR itself` });
    else dirs.push({ name, dir: link.target, real: false });
  }
  // No two volumes share a tree (one's lock would not keep a restore of it off an archive of the
  // other), and no data is dropped for it: a symlink into another volume's directory is left out,
  // as its data is in that volume's archive; of two on the same directory the real one or the first
  // name stays. Outermost directories first, so the volume a reason names is one.
  dirs.sort((a, b) => a.dir.length - b.dir.length || Number(b.real) - Number(a.real) || (a.name < b.name ? -1 : 1));
  const linked = new Map<string, string>();
  for (const { name, dir: target, real } of dirs) {
    if (real) continue;
    const host = dirs.find((o) => o.name !== name && within(target, o.dir) && (o.dir !== target || o.real || o.name < name));
    if (host?.dir === target) notVolumes.push({ name, reason: `is a symlink to ${target}, the directory of volume ${host.name} already` });
    else if (host) notVolumes.push({ name, reason: `is a symlink to ${target}, which lies inside volume ${host.name} (backed up with it)` });
    else {
      found.set(name, target);
      linked.set(name, target);
    }
  }
  return linked;
}

const MISSING = 'does not exist';

/** Why the directory of a volume cannot be reached (its symlink leads nowhere), or undefined when it can. */
export async function unreachableReason(dir: string): Promise<string | undefined> {
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st) return MISSING;
  if (!st.isSymbolicLink()) return st.isDirectory() ? undefined : 'is not a directory';
  const link = await resolveLink(dir);
  return 'reason' in link ? link.reason : undefined;
}

/** The directory a symlink leads to (resolved through every link), or why it leads to none. */
async function resolveLink(entry: string): Promise<{ target: string } | { reason: string }> {
  let target: string;
  try {
    target = await fs.realpath(entry);
  } catch (err) {
    const to = await fs.readlink(entry).catch(() => '?');
    const code = (err as NodeJS.ErrnoException).code;
    return { reason: `is a symlink to ${to}, which ${code === 'ENOENT' ? 'does not exist' : `cannot be followed (${code})`}` };
  }
  const st = await fs.stat(target).catch(() => undefined);
  return st?.isDirectory() ? { target } : { reason: `is a symlink to ${target}, which is not a directory` };
}

/** `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** What each process has said already: one line per entry and reason, not one per poll. */
const reported = new Set<string>();

function report(logger: Logger, volumesDir: string, linked: Map<string, string>, notVolumes: NotAVolume[], unreachable: NotAVolume[]): void {
  const once = (key: string, say: () => void) => {
    if (reported.has(key)) return;
    reported.add(key);
    say();
  };
  for (const [volume, target] of linked) {
    once(`${volumesDir}\0${volume}\0${target}`, () => logger.info({ volume, target }, `volume ${volume} is a symlink: its target ${target} is backed up`));
  }
  for (const { name, reason } of unreachable) {
    once(`${volumesDir}\0${name}\0${reason}`, () =>
      logger.warn({ volume: name, reason }, `volume ${name} cannot be reached: it ${reason}; its backups fail until it is back (remove the symlink to retire the volume)`),
    );
  }
  for (const { name, reason } of notVolumes) {
    once(`${volumesDir}\0${name}\0${reason}`, () =>
      logger.warn({ volumesDir, entry: name, reason }, `${JSON.stringify(name)} in VOLUMES_DIR is not a volume: it ${reason}`),
    );
  }
}

/**
 * The directory of `volume`, or undefined when it is no volume. With VOLUMES_DIR a valid name
 * whose entry is missing still gets its path (an archive job then fails loudly, a restore asks for
 * the directory to be created); a symlink resolves to its target when it is a volume.
 */
export async function volumeDir(source: VolumeSource, volume: string): Promise<string | undefined> {
  if (source.kind === 'list') return Object.hasOwn(source.volumes, volume) ? source.volumes[volume] : undefined;
  // A name that is no volume name can never be a path outside VOLUMES_DIR: checked before joining.
  if (!isValidVolumeName(volume)) return undefined;
  const entry = path.join(source.dir, volume);
  const st = await fs.lstat(entry).catch(() => undefined);
  if (!st || st.isDirectory()) return entry;
  if (!st.isSymbolicLink()) return undefined;
  // Whether a symlink is a volume depends on the other volumes (no two on one directory).
  const { volumes } = await listVolumes(source);
  return Object.hasOwn(volumes, volume) ? volumes[volume] : undefined;
}

/** The directory of `volume` that a restore writes into: a volume of this server, and there; else why not. */
export async function existingVolumeDir(source: VolumeSource, volume: string): Promise<string> {
  const dir = await volumeDir(source, volume);
  if (!dir) throw new Error(`volume ${volume} is not configured on this server`);
  const why = await unreachableReason(dir);
  if (why === undefined) return dir;
  if (why === MISSING) throw new Error(`volume directory ${dir} of ${volume} does not exist; create it (empty) to restore into it`);
  // A symlink that leads nowhere is there, its target is not: say which (found by a tester).
  throw new Error(`volume directory ${dir} of ${volume} ${why}; mount or create it to restore into it`);
}

/**
 * How a volume's directory and BACKUP_DIR overlap (one is, or is inside, the other, symlinks
 * resolved), or undefined when they do not. A volume holding BACKUP_DIR would be archived with the
 * backups in it, and a restore of it would swap them away (found by an audit); checked at start
 * (../../runtime/places.ts) and again by every archive and restore of a volume, for a symlinked
 * volume that leads there later.
 */
export async function overlapWithBackups(dir: string, backupDir: string): Promise<string | undefined> {
  const real = (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  const [v, b] = await Promise.all([real(dir), real(backupDir)]);
  const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
  if (within(b, v)) return v === b ? 'they are the same directory' : `the backups are inside ${v}`;
  if (within(v, b)) return `${v} is inside the backups' directory`;
  return undefined;
}

export class UnknownVolumeError extends Error {
  readonly code = 'unknown_volume';
  constructor(readonly unknown: string[], known: string[]) {
    super(`unknown volume(s): ${unknown.join(', ')}; known: ${known.join(', ') || '(none)'}`);
  }
}

/** The volumes a run archives: all of them, or the requested subset, each of which must exist. */
export async function selectRunVolumes(source: VolumeSource, requested?: string[]): Promise<Record<string, string>> {
  const { volumes } = await listVolumes(source);
  if (requested === undefined) return volumes;
  const known = new Map(Object.entries(volumes));
  const unknown = requested.filter((v) => !known.has(v));
  if (unknown.length > 0) throw new UnknownVolumeError(unknown, [...known.keys()]);
  return Object.fromEntries(requested.map((v) => [v, known.get(v)!]));
}

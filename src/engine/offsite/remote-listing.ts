/** The complete archive copies on one target (those whose completion marker is there), from one `rclone lsjson`. */
import { completeRemoteArchives, sizeDropMark, type RemoteArchive } from '../../core/offsite-names.js';
import { lsjson, type RcloneOptions } from './rclone.js';

export interface ListedRemoteArchive extends RemoteArchive {
  target: string;
  /** Size of the object on the target (ciphertext when encrypted). */
  size: number;
  modTime: string;
  /** The copy carries a size-drop mark (core/offsite-names.ts sizeDropMark). */
  sizeDropMarked: boolean;
}

export async function listRemoteArchives(rclone: RcloneOptions, target: string, signal?: AbortSignal): Promise<ListedRemoteArchive[]> {
  const entries = await lsjson(rclone, target, { signal });
  const byName = new Map(entries.map((e) => [e.Name, e]));
  return completeRemoteArchives(byName.keys()).map((a) => ({
    ...a, target, size: byName.get(a.object)!.Size, modTime: byName.get(a.object)!.ModTime, sizeDropMarked: byName.has(sizeDropMark(a.file)),
  }));
}

/** rclone's answer for a target directory that does not exist (yet): exit code 3, "directory not found". */
export function isDirectoryNotFound(err: unknown): boolean {
  return /exited with 3\b[\s\S]*directory not found/.test((err as Error)?.message ?? '');
}

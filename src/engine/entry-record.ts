/**
 * One archive entry as every reader of an archive must see it: our tar writer (at archive time, for
 * the manifest), our tar reader, and GNU tar's listing. Verification compares the three, field by
 * field and through a digest of the whole list, so an entry that one of them reads differently
 * (a name's bytes, a type, a size, a link target, a mode, an owner, an mtime) fails the check.
 */
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface EntryRecord {
  type: EntryType;
  /** The name's bytes as stored in the archive ("./a/b"; a directory as stored, usually with its trailing "/"). */
  name: Buffer;
  /** Target bytes of a symlink or hard link; undefined for every other type. */
  link: Buffer | undefined;
  /** Content size of a regular file (of a sparse file: its full, expanded size); 0 for every other type. */
  size: number;
  /** Permission bits, mode & 0o7777. */
  mode: number;
  uid: number;
  gid: number;
  /** mtime = mtimeSec + mtimeNsec / 1e9, with mtimeSec = floor (so mtimeNsec is 0 … 999999999, also before 1970). */
  mtimeSec: number;
  mtimeNsec: number;
}

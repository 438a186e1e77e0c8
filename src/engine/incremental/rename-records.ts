/**
 * The rename records of an incremental, read from the tar stream as GNU tar writes it. GNU tar puts
 * every directory rename it saw into the dumpdir of the archive's first member, the root ("./",
 * typeflag 'D'), after the root's own names: 'R' (from) and 'T' (to) pairs, in the order its restore
 * replays them, and 'X' (a temporary directory) before the renames of two directories that swapped
 * names. rename-conflicts.ts replays them on paper against the base's snapshot: the records, not
 * GNU tar's warnings, are what a restore applies, with the names and the order GNU tar chose
 * (a child's rename before its parent's, under the parent's new name: found by an audit).
 *
 * Memory: the records only; the root's own names (the volume's top level) are skipped as they pass.
 */
import { quoteName } from '../../core/show-name.js';
import { BLOCK, decodeHeader } from '../tar/header.js';

/** A rename as its record says: paths relative to the volume ("d/A", latin1, no "./"). */
export interface RenameRecord {
  from: string;
  to: string;
}

export interface RenameRecords {
  renames: RenameRecord[];
  /** An 'X' record: GNU tar breaks a cycle (two directories that swapped names) with a temporary directory. */
  tempDir: boolean;
}

const KEPT = new Set(['R'.charCodeAt(0), 'T'.charCodeAt(0), 'X'.charCodeAt(0)]);

/** Fed every chunk of the tar stream; reads the first member's dumpdir and ignores the rest. */
export class RootRenameRecords {
  private head: Buffer[] = [];
  private headLength = 0;
  /** Bytes of the root's dumpdir still to come; -1 before its header. */
  private left = -1;
  private part: Buffer[] = [];
  private keep = false;
  private atEntryStart = true;
  private readonly items: string[] = [];
  /** Why the records could not be read (then nothing can be said about the renames). */
  private problem: string | undefined;

  feed(chunk: Buffer): void {
    if (this.left === 0 || this.problem !== undefined) return;
    let pos = 0;
    if (this.left < 0) {
      pos = Math.min(BLOCK - this.headLength, chunk.length);
      this.head.push(chunk.subarray(0, pos));
      this.headLength += pos;
      if (this.headLength < BLOCK) return;
      try {
        const h = decodeHeader(Buffer.concat(this.head), 0);
        if (h.typeflag !== 'D' || h.name !== './') this.problem = `the archive starts with ${quoteName(h.name)} (type ${quoteName(h.typeflag)}), not the root's dumpdir`;
        this.left = h.size;
      } catch (err) {
        this.problem = `the archive's first header cannot be read: ${(err as Error).message}`;
      }
      this.head = [];
      if (this.problem !== undefined) return;
    }
    const end = pos + Math.min(this.left, chunk.length - pos);
    this.left -= end - pos;
    // Entries are "<letter><name>\0"; an empty entry ends the list.
    while (pos < end) {
      const nul = chunk.indexOf(0, pos);
      const ends = nul !== -1 && nul < end;
      const stop = ends ? nul : end;
      if (this.atEntryStart && stop > pos) {
        this.keep = KEPT.has(chunk[pos]!);
        this.atEntryStart = false;
      }
      if (this.keep && stop > pos) this.part.push(Buffer.from(chunk.subarray(pos, stop)));
      if (!ends) break;
      if (this.keep) this.items.push(Buffer.concat(this.part).toString('latin1'));
      [this.part, this.keep, this.atEntryStart] = [[], false, true];
      pos = stop + 1;
    }
  }

  /** The records, or a string saying why they cannot be read (a stream cut short, no root dumpdir). */
  result(): RenameRecords | string {
    if (this.problem !== undefined) return this.problem;
    if (this.left !== 0) return 'the archive ended inside its root dumpdir';
    const out: RenameRecords = { renames: [], tempDir: false };
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (item[0] === 'X') out.tempDir = true;
      else if (item[0] === 'R' && this.items[i + 1]?.[0] === 'T') out.renames.push({ from: relative(item.slice(1)), to: relative(this.items[++i]!.slice(1)) });
      else return `the root dumpdir has a malformed rename record ${quoteName(item)}`;
    }
    return out;
  }
}

/** "./d/A" → "d/A" (an empty name, the temporary directory's place in a cycle, stays empty). */
function relative(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}

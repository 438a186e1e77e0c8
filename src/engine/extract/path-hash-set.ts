/**
 * A set of paths that holds 8 bytes per path instead of the path: two independent 32-bit hashes in
 * an open-addressing table. Verification uses it to check that a hard link points to an entry seen
 * before, for archives with millions of files, without keeping millions of strings in memory.
 * A false "seen" needs both hashes of two different paths to collide (about 1 in 2^64 per pair),
 * and an extraction checks the real file on disk anyway.
 */
export class PathHashSet {
  private table = new Uint32Array(2 * 1024);
  private count = 0;

  add(p: string): void {
    if ((this.count + 1) * 2 > this.table.length / 2) this.grow();
    if (this.insert(this.table, ...hashes(p))) this.count++;
  }

  has(p: string): boolean {
    const [a, b] = hashes(p);
    const t = this.table;
    const slots = t.length / 2;
    for (let i = a % slots; ; i = (i + 1) % slots) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
    }
  }

  get size(): number {
    return this.count;
  }

  /** Returns false when the pair was there already. (0,0) marks an empty slot, so hashes are never both 0. */
  private insert(t: Uint32Array, a: number, b: number): boolean {
    const slots = t.length / 2;
    for (let i = a % slots; ; i = (i + 1) % slots) {
      const x = t[2 * i]!;
      const y = t[2 * i + 1]!;
      if (x === a && y === b) return false;
      if (x === 0 && y === 0) {
        t[2 * i] = a;
        t[2 * i + 1] = b;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(this.table, old[i]!, old[i + 1]!);
    }
  }
}

/** FNV-1a and a multiplicative hash over the chars (bytes) of a binary string; never both zero. */
function hashes(p: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c + 1, 0x5bd1e995) ^ (b >>> 15);
  }
  a >>>= 0;
  b >>>= 0;
  return a === 0 && b === 0 ? [1, 0] : [a, b];
}

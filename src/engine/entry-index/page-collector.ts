/**
 * One page of a directory's names, gathered in one pass over names that come in any order: the
 * smallest names after `after`, sorted by their bytes. Memory holds at most about twice the page
 * (a page's worth of the smallest names so far), however many names pass. Names are binary strings
 * (one char per byte), which compare by their bytes.
 */
export class PageCollector<T> {
  private readonly kept = new Map<string, T>();
  /** Names above this cannot be on the page: skipped, but they mean more names follow. */
  private ceiling: string | undefined;
  /** Names after the page exist (known for sure after take()). */
  more = false;

  constructor(
    private readonly after: string | undefined,
    private readonly limit: number,
  ) {}

  /** Whether `name` could still be on the page (a caller may skip building its value otherwise). */
  admits(name: string): boolean {
    if (this.after !== undefined && name <= this.after) return false;
    if (this.ceiling !== undefined && name > this.ceiling) {
      this.more = true;
      return false;
    }
    return true;
  }

  has(name: string): boolean {
    return this.kept.has(name);
  }

  /** Offers `name` with its value; a name offered again keeps the later value (as tar extracts the last). */
  offer(name: string, value: T): void {
    if (!this.admits(name)) return;
    this.kept.set(name, value);
    if (this.kept.size > 2 * this.limit + 2) this.shrink();
  }

  /** The page: up to `limit` names, sorted by bytes, with their values. */
  take(): Array<[string, T]> {
    const names = [...this.kept.keys()].sort();
    if (names.length > this.limit) this.more = true;
    return names.slice(0, Math.max(0, this.limit)).map((n) => [n, this.kept.get(n)!]);
  }

  private shrink(): void {
    const names = [...this.kept.keys()].sort();
    for (const n of names.slice(this.limit + 1)) this.kept.delete(n);
    this.ceiling = names[this.limit];
    this.more = true;
  }
}

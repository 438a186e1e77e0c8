/**
 * Reads the chain of an incremental archive for point-entries.ts: which snapshot record and which
 * archive's entry says what a path is at the point of the chain's last archive (the method is in
 * point-entries.ts's header). One streaming pass per snapshot and entry index of each level a
 * lookup reaches; each snapshot is checked against the sha256 its manifest recorded.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { ArchiveError } from '../archive-errors.js';
import { withEntryIndex } from '../entry-index/entry-index.js';
import type { IndexEntry } from '../entry-index/index-format.js';
import { readIndex } from '../entry-index/index-reader.js';
import type { Listed } from '../entry-index/list-directory.js';
import { PageCollector } from '../entry-index/page-collector.js';
import { readChainManifest } from './chain.js';
import { scanSnapshot, type NameSink, type SnapshotRecord } from './snapshot-scan.js';

export interface PointOptions {
  logger: Logger;
  signal?: AbortSignal;
}

/** A directory with its record in the snapshot of `level`, at `path` there. */
export interface DirPlace {
  kind: 'dir';
  level: number;
  path: string;
  ino: string;
  dev: string;
}

/** What a path of point k is: a directory's record, an entry (`path` as in the archive that holds it), or nothing. */
export type Outcome = DirPlace | { kind: 'entry'; entry: Omit<Listed, 'name'> } | { kind: 'none' };

/** A name in a directory record of snapshot `level`, with its flag there, and components still to walk below it. */
export interface Step {
  kind: 'step';
  level: number;
  dir: DirPlace;
  name: string;
  flag: string | undefined;
  rest: string[];
  /**
   * Followed down from a 'Y' name its archive lacks (it vanished between GNU tar's scan and its
   * read): the restore keeps what an earlier archive put there, unless that is a directory.
   */
  noDir?: boolean;
}

export class ChainReader {
  readonly top: number;
  /** By level: the snapshot's sha256 as its manifest recorded it. */
  private readonly snapshotSha256 = new Map<number, string>();

  constructor(
    private readonly backupDir: string,
    private readonly chain: string[],
    private readonly o: PointOptions,
  ) {
    if (chain.length === 0) throw new Error('a chain holds at least one archive');
    this.top = chain.length - 1;
  }

  /**
   * Where each path is at `level`, in one pass over its snapshot: a directory that has a record
   * there, or the step (parent record, name, flag) at the first component without one. `page`
   * also collects the names of the record of `page.dir`, if it has one.
   */
  async locate(level: number, paths: string[], page?: { dir: string; page: PageCollector<string> }): Promise<Array<Step | Outcome>> {
    const wanted = new Map<string, { rec?: SnapshotRecord; flags: Map<string, string | undefined> }>();
    const want = (p: string) => {
      let w = wanted.get(p);
      if (!w) wanted.set(p, (w = { flags: new Map() }));
      return w;
    };
    const parts = paths.map((p) => (p === '' ? [] : p.split('/')));
    for (const comps of parts) {
      let at = '';
      for (const c of comps) {
        want(at).flags.set(c, undefined);
        at = join(at, c);
      }
      want(at);
    }
    await this.scanSnapshot(level, (rec) => {
      const w = wanted.get(rec.path);
      const collect = page && rec.path === page.dir ? page.page : undefined;
      if (!w && !collect) return undefined;
      if (w) w.rec = rec;
      return (flag, name) => {
        if (w?.flags.has(name)) w.flags.set(name, flag);
        collect?.offer(name, flag);
      };
    });
    return parts.map((comps): Step | Outcome => {
      const root = wanted.get('')!.rec;
      if (!root) throw new ArchiveError('corrupt', `the snapshot of ${this.chain[level]} has no record of the volume root`);
      let at: DirPlace = { kind: 'dir', level, ...root };
      for (const [i, c] of comps.entries()) {
        const rec = wanted.get(join(at.path, c))!.rec;
        if (rec) {
          at = { kind: 'dir', level, ...rec };
          continue;
        }
        const flag = wanted.get(at.path)!.flags.get(c);
        // 'D' without a record of its own would be a damaged snapshot: nothing to walk.
        if (flag === 'D' || flag === undefined) return { kind: 'none' };
        return { kind: 'step', level, dir: at, name: c, flag, rest: comps.slice(i + 1) };
      }
      return at;
    });
  }

  /**
   * Follows steps down the chain to what the restore leaves there: a 'Y' name is archive `level`'s
   * entry, an 'N' name the same name in the directory's previous record (one snapshot pass and one
   * entry index pass per level for all steps). A 'D' name is a directory entry, or with
   * `needRecord` its record.
   */
  async follow(steps: Step[], needRecord: boolean): Promise<Outcome[]> {
    const out: Outcome[] = steps.map(() => ({ kind: 'none' }));
    let pending = steps.map((step, i) => ({ i, step }));
    while (pending.length > 0) {
      const level = Math.max(...pending.map((p) => p.step.level));
      const here = pending.filter((p) => p.step.level === level);
      pending = pending.filter((p) => p.step.level !== level);
      const down: typeof here = [];
      const lookup: Array<(typeof here)[number] & { path: string }> = [];
      const relocate: Array<{ i: number; path: string }> = [];
      for (const h of here) {
        const s = h.step;
        const p = join(s.dir.path, s.name);
        if (s.flag === 'D' && s.noDir) continue;
        if ((s.flag === 'Y' || (s.flag === 'D' && !needRecord)) && s.rest.length === 0) lookup.push({ ...h, path: p });
        // An 'N' name that was a directory one level down: walk on from its record there.
        else if (s.flag === 'D') relocate.push({ i: h.i, path: [p, ...s.rest].join('/') });
        else if (s.flag === 'N' && level > 0) down.push(h);
      }
      if (relocate.length > 0) {
        const found = await this.locate(level, relocate.map((x) => x.path));
        relocate.forEach((x, j) => {
          const f = found[j]!;
          // A step from locate has a Y or N flag: following it cannot come back here.
          if (f.kind === 'step') pending.push({ i: x.i, step: f });
          else out[x.i] = f;
        });
      }
      if (lookup.length > 0) {
        const entries = await this.lookup(level, new Set(lookup.map((x) => x.path)));
        for (const x of lookup) {
          const e = entries.get(x.path);
          // Every directory has its entry in each archive; without one its time is unknown, as listDirectory says.
          if (x.step.flag === 'D') out[x.i] = { kind: 'entry', entry: { ...(e ?? { size: 0, mtimeSec: null, link: undefined }), type: 'd', path: x.path } };
          else if (e) out[x.i] = { kind: 'entry', entry: e };
          else if (level > 0) down.push({ i: x.i, step: { ...x.step, flag: 'N', noDir: true } });
        }
      }
      if (down.length > 0) {
        const previous = await this.previousRecords(level - 1, down.map((d) => d.step));
        down.forEach((d, j) => {
          const s = previous[j];
          if (s) pending.push({ i: d.i, step: s });
        });
      }
    }
    return out;
  }

  /**
   * For each step (a name flagged 'N' in a record of snapshot level+1): the same name in the record
   * of snapshot `level` with the directory's inode (its path there, after any rename), in one pass.
   */
  private async previousRecords(level: number, steps: Step[]): Promise<Array<Step | undefined>> {
    const byIno = new Map<string, Array<{ dir: DirPlace; best?: SnapshotRecord; score: number; flags: Map<string, string | undefined> }>>();
    const queries = steps.map((s) => {
      let list = byIno.get(s.dir.ino);
      if (!list) byIno.set(s.dir.ino, (list = []));
      let q = list.find((x) => x.dir === s.dir);
      if (!q) list.push((q = { dir: s.dir, score: -1, flags: new Map() }));
      q.flags.set(s.name, undefined);
      return q;
    });
    await this.scanSnapshot(level, (rec) => {
      const list = byIno.get(rec.ino);
      if (!list) return undefined;
      const taken = list.filter((q) => {
        // Inodes repeat only across devices: prefer the record GNU tar would have matched.
        const score = (rec.path === q.dir.path ? 2 : 0) + (rec.dev === q.dir.dev ? 1 : 0);
        if (score <= q.score) return false;
        q.score = score;
        q.best = rec;
        for (const n of q.flags.keys()) q.flags.set(n, undefined);
        return true;
      });
      if (taken.length === 0) return undefined;
      return (flag, name) => {
        for (const q of taken) if (q.flags.has(name)) q.flags.set(name, flag);
      };
    });
    return steps.map((s, i) => {
      const q = queries[i]!;
      if (!q.best) return undefined;
      return { ...s, level, dir: { kind: 'dir', level, ...q.best }, flag: q.flags.get(s.name) };
    });
  }

  /** The names of a directory record after `after`, a page's worth (one pass over its snapshot). */
  async collectPage(where: DirPlace, after: string | undefined, limit: number): Promise<PageCollector<string>> {
    const page = new PageCollector<string>(after, limit);
    await this.scanSnapshot(where.level, (rec) => (rec.path === where.path ? (flag, name) => page.offer(name, flag) : undefined));
    return page;
  }

  /** What each name of `where` is at point k, as listed: absent names are missing from the map. */
  async children(where: DirPlace, names: Array<[string, string]>): Promise<Map<string, Omit<Listed, 'name'>>> {
    const outcomes = await this.follow(
      names.map(([name, flag]): Step => ({ kind: 'step', level: where.level, dir: where, name, flag, rest: [] })),
      false,
    );
    const out = new Map<string, Omit<Listed, 'name'>>();
    outcomes.forEach((x, i) => {
      if (x.kind === 'entry') out.set(names[i]![0], x.entry);
    });
    return out;
  }

  /** The entries of archive `level` at `paths`: one pass over its entry index (built first if it has none). */
  private async lookup(level: number, paths: Set<string>): Promise<Map<string, IndexEntry>> {
    this.o.signal?.throwIfAborted();
    const { result } = await withEntryIndex(path.join(this.backupDir, this.chain[level]!), this.o, async (indexFile, expected) => {
      const found = new Map<string, IndexEntry>();
      // The last occurrence of a name is what tar extracts.
      await readIndex(indexFile, expected, (e) => {
        if (paths.has(e.path)) found.set(e.path, e);
      });
      return found;
    });
    return result;
  }

  /** One streaming pass over the snapshot of `level`, checked against the sha256 its manifest recorded (snapshot-scan.ts). */
  private async scanSnapshot(level: number, onRecord: (r: SnapshotRecord) => NameSink | undefined): Promise<void> {
    const file = this.chain[level]!;
    const archivePath = path.join(this.backupDir, file);
    let expected = this.snapshotSha256.get(level);
    if (expected === undefined) {
      const manifest = await readChainManifest(archivePath);
      if (!manifest) throw new ArchiveError('unsupported', `${file} was not made in incremental mode (no snapshot)`);
      this.snapshotSha256.set(level, (expected = manifest.snapshot.sha256));
    }
    await scanSnapshot(archivePath, expected, onRecord, this.o.signal);
  }
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

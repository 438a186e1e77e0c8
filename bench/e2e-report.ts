/**
 * The end-to-end bench's figures: every sample under a key ("ours.restore", "gnu.extract.elexisdb",
 * …), one per repetition, and the markdown tables made of their medians — the whole set in the
 * shape of issue 13's table, then per volume. `× tar -czf` is GNU's median seconds / ours: above 1
 * we are faster.
 */

/** Sample keys: ours.* are measured through the API, gnu.* and pigz.* by the commands. */
export class Samples {
  readonly all: Record<string, number[]> = {};

  add(key: string, value: number | undefined): void {
    if (value === undefined) return;
    (this.all[key] ??= []).push(value);
  }

  has(key: string): boolean {
    return (this.all[key]?.length ?? 0) > 0;
  }

  median(key: string): number {
    const s = [...(this.all[key] ?? [])].sort((a, b) => a - b);
    if (s.length === 0) return NaN;
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  }

  max(key: string): number {
    return Math.max(...(this.all[key] ?? [NaN]));
  }

  range(key: string): string {
    const s = this.all[key] ?? [];
    return s.length > 1 ? ` (${Math.min(...s).toFixed(1)}-${Math.max(...s).toFixed(1)})` : '';
  }
}

const sec = (s: number) => (Number.isNaN(s) ? 'n/a' : s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`);
const times = (gnu: number, ours: number) => (Number.isNaN(gnu) || Number.isNaN(ours) ? 'n/a' : `${(gnu / ours).toFixed(2)}×`);
const mib = (m: number) => (Number.isNaN(m) ? 'n/a' : `${Math.round(m)}`);

export interface ReportInput {
  sizeMiB: number;
  /** The data set in words for the table's head (default `<sizeMiB> MiB`). */
  label?: string;
  reps: number;
  volumes: { name: string; MiB: number; files: number }[];
  pigz: boolean;
}

/** The whole set, in the shape of issue 13's table. */
export function wholeSetTable(s: Samples, r: ReportInput): string {
  const pigz = r.pigz ? `, ${times(s.median('pigz.create.total'), s.median('ours.archive.listed'))} \`tar \\| pigz\` (${sec(s.median('pigz.create.total'))})` : ', `tar \\| pigz`: pigz not installed';
  const safetyCost = s.median('ours.restore-safety') - s.median('ours.restore');
  const rows = [
    [
      'archive, run now → all archives listed with sha256',
      `${sec(s.median('ours.archive.listed'))}${s.range('ours.archive.listed')}: ${times(s.median('gnu.create.total'), s.median('ours.archive.listed'))} \`tar -czf\` (${sec(s.median('gnu.create.total'))})${pigz}`,
    ],
    ['archive, run now → every archive verified (the verify job after each archive)', `${sec(s.median('ours.archive.verified'))}${s.range('ours.archive.verified')}`],
    [
      'restore, confirm → job completed (safety backup skipped)',
      `${sec(s.median('ours.restore'))}${s.range('ours.restore')}: ${times(s.median('gnu.extract.total'), s.median('ours.restore'))} \`tar -xzf\` (${sec(s.median('gnu.extract.total'))}; ${sec(s.median('gnu.extract-sync.total'))} with a \`sync\` after each); ${times(s.median('gnu.replace.total'), s.median('ours.restore'))} \`rm -rf\` of the previous data + \`tar -xzf\` + \`sync\` (${sec(s.median('gnu.replace.total'))}), the same work by hand`,
    ],
    [
      'safety backup: restore with it, confirm → completed',
      `${sec(s.median('ours.restore-safety'))}${s.range('ours.restore-safety')}: +${sec(safetyCost)} over the restore without it (its own step: ${sec(s.median('ours.safety.total'))})`,
    ],
    [
      'verify, POST …/verify → every verify job completed',
      `${sec(s.median('ours.verify'))}${s.range('ours.verify')}: ${times(s.median('gnu.verify.total'), s.median('ours.verify'))} \`tar -tzf\` + \`sha256sum\` (${sec(s.median('gnu.verify.total'))})`,
    ],
    [
      'worker peak RSS (VmHWM), MiB: archive / restore / restore with safety backup / verify (its RSS when the step started)',
      `${['archive', 'restore', 'restore-safety', 'verify'].map((p) => `${mib(s.max(`rss.${p}`))} (${mib(s.max(`rss-start.${p}`))})`).join(' / ')}; idle after start: ${mib(s.max('rss.idle'))}`,
    ],
  ];
  return [`| | ${r.label ?? `${r.sizeMiB} MiB`} |`, '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

/** Per volume: our jobs (timestamps of GET /api/jobs; restore steps from the worker's log) against the commands. */
export function perVolumeTable(s: Samples, r: ReportInput): string {
  const head = [
    'volume', 'MiB', 'files',
    'archive job', '× tar -czf', ...(r.pigz ? ['× tar \\| pigz'] : []), 'verify after archive',
    'restore (extract+verify / swap)', '× tar -xzf', '× rm -rf + tar -xzf + sync', 'safety backup',
    'verify job', '× tar -tzf + sha256sum',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const v of [...r.volumes.map((x) => x.name), 'total']) {
    const info = r.volumes.find((x) => x.name === v);
    const m = (k: string) => s.median(`${k}.${v}`);
    const restore = m('ours.restore');
    lines.push(
      `| ${[
        v,
        info ? info.MiB.toFixed(1) : r.volumes.reduce((n, x) => n + x.MiB, 0).toFixed(1),
        info ? String(info.files) : String(r.volumes.reduce((n, x) => n + x.files, 0)),
        sec(m('ours.archive-job')),
        times(m('gnu.create'), m('ours.archive-job')),
        ...(r.pigz ? [times(m('pigz.create'), m('ours.archive-job'))] : []),
        sec(m('ours.verify-after-archive')),
        `${sec(restore)} (${sec(m('ours.extract'))} / ${sec(m('ours.swap'))})`,
        times(m('gnu.extract'), restore),
        times(m('gnu.replace'), restore),
        sec(m('ours.safety')),
        sec(m('ours.verify-job')),
        `${times(m('gnu.verify'), m('ours.verify-job'))} (${sec(m('gnu.verify'))})`,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

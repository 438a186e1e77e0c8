/**
 * The words beside a progress bar. A job that knows its total says "x of y (z %)". An archive in
 * incremental mode does not know it (GNU tar walks the volume and decides what changed while it
 * writes), so once bytes flow it says how much so far, not "waiting", and its bar is indeterminate.
 */
export type ProgressTextKey = 'progress.done' | 'progress.of' | 'progress.sofar' | 'progress.waiting';

export function progressText(done: number, total: number, finished: boolean | undefined): { key: ProgressTextKey; value: number | undefined } {
  if (finished) return { key: 'progress.done', value: 1 };
  if (total > 0) return { key: 'progress.of', value: Math.min(1, done / total) };
  return { key: done > 0 ? 'progress.sofar' : 'progress.waiting', value: undefined };
}

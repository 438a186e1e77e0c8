/** Polling the API while a screen is shown: at once, then every `ms`; stops when the screen goes. */
import { useEffect, useRef, useState } from 'preact/hooks';

export function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): { data: T | undefined; error: Error | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      loadRef.current().then(
        (d) => !stopped && (setData(d), setError(undefined)),
        (e: Error) => !stopped && setError(e),
      ).finally(() => {
        if (!stopped) timer = setTimeout(run, ms);
      });
    };
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [ms, tick, ...deps]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** Bytes per second of a job, from the first and the latest progress seen of it. */
export function useRates(): (id: string, done: number) => number | undefined {
  const seen = useRef(new Map<string, { at: number; done: number }>());
  return (id, done) => {
    const now = Date.now();
    const first = seen.current.get(id);
    if (!first || done < first.done) {
      seen.current.set(id, { at: now, done });
      return undefined;
    }
    const secs = (now - first.at) / 1000;
    return secs >= 1 ? (done - first.done) / secs : undefined;
  };
}

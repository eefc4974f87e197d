import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads `fn()` whenever `deps` change; the latest call wins, earlier answers are dropped. */
export function useResource<T>(fn: () => Promise<T>, deps: unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const value = await fnRef.current();
      if (mine === seq.current) {
        setData(value);
        setError(undefined);
      }
    } catch (e) {
      if (mine === seq.current) setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);
  useEffect(() => {
    void reload();
  }, deps);
  useEffect(() => () => {
    seq.current++;
  }, []);
  return { data, error, loading, reload };
}

/** Runs `fn` every `ms` while `active`, never two at once. */
export function useInterval(fn: () => Promise<void> | void, ms: number, active: boolean): void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!active) return;
    let busy = false;
    const id = setInterval(async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        await fnRef.current();
      } finally {
        busy = false;
      }
    }, ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

/** True while the system prefers a dark theme; follows changes. */
export function useDarkMode(): boolean {
  const [dark, setDark] = useState(darkQuery.matches);
  useEffect(() => {
    const update = () => setDark(darkQuery.matches);
    darkQuery.addEventListener('change', update);
    return () => darkQuery.removeEventListener('change', update);
  }, []);
  return dark;
}

/** Sets the document title for a page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Tollgate` : 'Tollgate';
  }, [title]);
}

/**
 * A form's local draft of a value kept elsewhere (the URL, the server's copy): it starts from
 * `from()` and starts over whenever `deps` change later, but not on the first render, so what a
 * user types before the first effects have run is not overwritten with the same starting value.
 */
export function useDraft<T>(from: () => T, deps: unknown[]): [T, (next: T | ((prev: T) => T)) => void] {
  const [draft, setDraft] = useState<T>(from);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) setDraft(from());
    started.current = true;
  }, deps);
  return [draft, setDraft];
}

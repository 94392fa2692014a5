// The page's side of the dashboard server: public API calls (passed through as JSON), the server's own
// endpoints, a hook that refreshes data every few seconds, and the live channel that tells the page
// whether the controller is there (and whether it restarted since the page last saw it).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveHello } from '../api/dashboard-messages.ts';

/** How often tables refresh. The controller's finest telemetry slot is 10 s; 5 s shows changes quickly. */
export const REFRESH_MS = 5_000;

export class ApiFailure extends Error {
  override name = 'ApiFailure';
}

async function answer<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(`${what}: ${response.status} ${text.slice(0, 200)}`);
  }
  const error = (body as { error?: unknown }).error;
  if (!response.ok) throw new ApiFailure(`${what}: ${typeof error === 'string' ? error : response.status}`);
  // Public API answers carry `{ok}` or `{error: {error}}` (a ResourceError).
  if (error !== null && typeof error === 'object' && typeof (error as { error?: unknown }).error === 'string') {
    throw new ApiFailure(`${what}: ${(error as { error: string }).error}`);
  }
  return body as T;
}

export async function callApi<T>(method: string, request: object): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`api/v1/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  } catch {
    throw new ApiFailure(`${method}: the dashboard server does not answer`);
  }
  return answer<T>(response, method);
}

export async function getJson<T>(path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path);
  } catch {
    throw new ApiFailure(`${path}: the dashboard server does not answer`);
  }
  return answer<T>(response, path);
}

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  /** When `data` last arrived. */
  readonly at: number | undefined;
}

/**
 * `load()` now and every `intervalMs`, again at once when `key` changes or the live channel comes back
 * (`generation`). The last good data stays while a refresh fails; the error says why.
 */
export function usePolled<T>(load: () => Promise<T>, key: string, generation: number, intervalMs = REFRESH_MS): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, at: undefined });
  const loadRef = useRef(load);
  loadRef.current = load;
  const keyRef = useRef(key);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A new key starts blank rather than showing another resource's numbers meanwhile.
    if (keyRef.current !== key) {
      keyRef.current = key;
      setState({ data: undefined, error: undefined, at: undefined });
    }
    const tick = async (): Promise<void> => {
      try {
        const data = await loadRef.current();
        if (!stopped) setState({ data, error: undefined, at: Date.now() });
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error: (error as Error).message }));
      }
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, generation, intervalMs]);
  return state;
}

export type LiveState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'up'; readonly hello: LiveHello; readonly restarted: boolean; readonly recovered: boolean }
  | { readonly kind: 'down'; readonly since: number };

/**
 * The live channel (`/api/live`, Server-Sent Events). EventSource reconnects by itself; each `hello`
 * names the controller run, so a different `bootId` after a break means the controller restarted.
 * `generation` grows at every reconnection, for data hooks to refresh at once.
 */
export function useLive(): { live: LiveState; generation: number; dismiss: () => void } {
  const [live, setLive] = useState<LiveState>({ kind: 'connecting' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let firstBoot: string | undefined;
    let lastBoot: string | undefined;
    let lost = false;
    const source = new EventSource('api/live');
    source.addEventListener('hello', (event) => {
      const hello = JSON.parse((event as MessageEvent<string>).data) as LiveHello;
      firstBoot ??= hello.bootId;
      const restarted = lastBoot !== undefined && lastBoot !== hello.bootId;
      setLive({ kind: 'up', hello, restarted, recovered: lost });
      if (lost) setGeneration((g) => g + 1);
      lastBoot = hello.bootId;
      lost = false;
    });
    source.addEventListener('error', () => {
      if (!lost) setLive({ kind: 'down', since: Date.now() });
      lost = true;
    });
    return () => source.close();
  }, []);
  const dismiss = (): void => setLive((s) => (s.kind === 'up' ? { ...s, restarted: false, recovered: false } : s));
  return { live, generation, dismiss };
}

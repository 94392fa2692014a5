// A destination's ServiceProfile routes, compiled for the request path: which route a request takes
// (first match wins, as in Linkerd), and whether a response counts as a failure for that route.
import { labels } from '../../telemetry/metrics.ts';
import type { ProfileData, RequestMatchData, ResponseMatchData, RouteData } from '../discovery/state.ts';
import { DEFAULT_RETRY_BUDGET, type RetryBudgetConfig } from '../retry/budget.ts';

type RequestTest = (method: string, path: string) => boolean;
type ResponseTest = (status: number) => boolean;

export interface Route {
  /** `rt_*` labels, preformatted; '' for the default route. */
  readonly labels: string;
  readonly isRetryable: boolean;
  readonly timeoutMs: number | undefined;
  /** Whether a response is a failure: the route's first matching response class, else HTTP ≥ 500 or,
   * when the response carries one, a gRPC status other than OK. `grpcStatus` is -1 when there is none. */
  isFailure(status: number, grpcStatus: number): boolean;
}

function defaultFailure(status: number, grpcStatus: number): boolean {
  return grpcStatus >= 0 ? grpcStatus !== 0 : status >= 500;
}

/**
 * Requests that match no route. Linkerd counts them under a route with no `rt_*` labels (which
 * `linkerd routes` shows as `[DEFAULT]`); they are never retried and get the proxy's response timeout.
 */
export const DEFAULT_ROUTE: Route = { labels: '', isRetryable: false, timeoutMs: undefined, isFailure: defaultFailure };

/** Prometheus label names allow `[a-zA-Z0-9_]`; anything else in a route label key becomes `_`. */
export function routeLabels(data: Readonly<Record<string, string>>): string {
  const out: Record<string, string> = {};
  for (const key of Object.keys(data).sort()) out[`rt_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`] = data[key] as string;
  return labels(out);
}

/** A path regex anchored to the whole path, as Linkerd does; Go's `(?i)` prefix becomes the `i` flag. */
export function compilePathRegex(regex: string): RegExp | undefined {
  const insensitive = regex.startsWith('(?i)');
  const body = insensitive ? regex.slice(4) : regex;
  try {
    return new RegExp(`^(?:${body})$`, insensitive ? 'i' : '');
  } catch {
    return undefined;
  }
}

const NEVER: RequestTest = () => false;

export function compileRequestMatch(match: RequestMatchData, invalid: (regex: string) => void = () => {}): RequestTest {
  switch (match.kind) {
    case 'all': {
      const tests = match.matches.map((m) => compileRequestMatch(m, invalid));
      return (method, path) => tests.every((t) => t(method, path));
    }
    case 'any': {
      const tests = match.matches.map((m) => compileRequestMatch(m, invalid));
      return (method, path) => tests.some((t) => t(method, path));
    }
    case 'not': {
      const test = compileRequestMatch(match.match, invalid);
      return (method, path) => !test(method, path);
    }
    case 'path': {
      const re = compilePathRegex(match.regex);
      if (re === undefined) {
        invalid(match.regex);
        return NEVER;
      }
      return (_method, path) => re.test(path);
    }
    case 'method': {
      const want = match.method.toUpperCase();
      return (method) => method === want;
    }
    case 'none':
      return NEVER;
    default:
      match satisfies never;
      return NEVER;
  }
}

export function compileResponseMatch(match: ResponseMatchData): ResponseTest {
  switch (match.kind) {
    case 'all': {
      const tests = match.matches.map(compileResponseMatch);
      return (status) => tests.every((t) => t(status));
    }
    case 'any': {
      const tests = match.matches.map(compileResponseMatch);
      return (status) => tests.some((t) => t(status));
    }
    case 'not': {
      const test = compileResponseMatch(match.match);
      return (status) => !test(status);
    }
    case 'status': {
      const { min, max } = match;
      return (status) => (min === 0 || status >= min) && (max === 0 || status <= max);
    }
    case 'none':
      return () => false;
    default:
      match satisfies never;
      return () => false;
  }
}

class CompiledRoute implements Route {
  readonly labels: string;
  readonly isRetryable: boolean;
  readonly timeoutMs: number | undefined;
  readonly matches: RequestTest;
  private readonly classes: ReadonlyArray<{ readonly test: ResponseTest; readonly isFailure: boolean }>;

  constructor(data: RouteData, invalid: (regex: string) => void) {
    this.labels = routeLabels(data.labels);
    this.isRetryable = data.isRetryable;
    this.timeoutMs = data.timeoutMs !== undefined && data.timeoutMs > 0 ? data.timeoutMs : undefined;
    this.matches = compileRequestMatch(data.condition, invalid);
    this.classes = data.responseClasses.map((c) => ({ test: compileResponseMatch(c.condition), isFailure: c.isFailure }));
  }

  isFailure(status: number, grpcStatus: number): boolean {
    for (const c of this.classes) if (c.test(status)) return c.isFailure;
    return defaultFailure(status, grpcStatus);
  }
}

export class CompiledProfile {
  readonly retryBudget: RetryBudgetConfig;
  private readonly routes: readonly CompiledRoute[];

  constructor(profile: ProfileData | undefined, invalid: (regex: string) => void = () => {}) {
    this.routes = (profile?.routes ?? []).map((r) => new CompiledRoute(r, invalid));
    this.retryBudget = profile?.retryBudget ?? DEFAULT_RETRY_BUDGET;
  }

  /** The first route whose condition matches, else the default route. `path` excludes the query. */
  route(method: string, path: string): Route {
    for (const route of this.routes) if (route.matches(method, path)) return route;
    return DEFAULT_ROUTE;
  }
}

/** The path of a request target, without its query (what route conditions see). */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

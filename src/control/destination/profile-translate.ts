// Pure translation of a ServiceProfile `spec` (the CRD's camelCase shape) into the proxy API's
// `DestinationProfile` message, following what Linkerd's destination controller sends:
//   - every route gets `metrics_labels {route: <name>}`; a condition with several fields set is their
//     `all`; a route without `timeout` gets the default route timeout (10 s);
//   - `retry_budget` is always present (default 20 %, 10/s, 10 s), also when there is no profile;
//   - `dst_overrides` weights are Kubernetes quantities sent as their milli-value, as Linkerd does
//     (`weight.MilliValue()`): `500m` → 500, `1` → 1000, `0.5` → 500, `100` → 100000; an authority
//     without a port gets the requested port appended;
//   - `opaque_protocol` is true when the requested port is one of `opaquePorts`.
// A part of a profile that cannot be translated (bad regex type, unparsable duration …) is dropped
// with a warning rather than failing the whole profile; the file backend rejects such files earlier.
import type { ProfileSpec, RequestMatchSpec, ResponseMatchSpec, RouteSpec } from '../discovery/types.ts';
import { parseQuantity } from '../../api/quantity.ts';

export interface DurationMessage {
  readonly seconds: number;
  readonly nanos: number;
}

export type HttpMethodMessage = { readonly registered: string } | { readonly unregistered: string };

export type RequestMatchMessage =
  | { readonly all: { readonly matches: RequestMatchMessage[] } }
  | { readonly any: { readonly matches: RequestMatchMessage[] } }
  | { readonly not: RequestMatchMessage }
  | { readonly path: { readonly regex: string } }
  | { readonly method: HttpMethodMessage };

export type ResponseMatchMessage =
  | { readonly all: { readonly matches: ResponseMatchMessage[] } }
  | { readonly any: { readonly matches: ResponseMatchMessage[] } }
  | { readonly not: ResponseMatchMessage }
  | { readonly status: { readonly min: number; readonly max: number } };

export interface RouteMessage {
  readonly condition: RequestMatchMessage;
  readonly response_classes: Array<{ readonly condition: ResponseMatchMessage; readonly is_failure: boolean }>;
  readonly metrics_labels: Record<string, string>;
  readonly is_retryable: boolean;
  readonly timeout: DurationMessage;
}

export interface RetryBudgetMessage {
  readonly retry_ratio: number;
  readonly min_retries_per_second: number;
  readonly ttl: DurationMessage;
}

export interface WeightedDstMessage {
  readonly authority: string;
  readonly weight: number;
}

export interface DestinationProfileMessage {
  readonly fully_qualified_name: string;
  readonly opaque_protocol: boolean;
  readonly routes: RouteMessage[];
  readonly retry_budget: RetryBudgetMessage;
  readonly dst_overrides: WeightedDstMessage[];
  /** A WeightedAddr (see endpoint-translate.ts) for endpoint profiles (`IP:port` lookups). */
  readonly endpoint?: unknown;
}

/** Linkerd's default route timeout. */
export const DEFAULT_ROUTE_TIMEOUT_NS = 10_000_000_000;
export const DEFAULT_RETRY_BUDGET: RetryBudgetMessage = {
  retry_ratio: 0.2,
  min_retries_per_second: 10,
  ttl: { seconds: 10, nanos: 0 },
};

const REGISTERED_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE']);

const DURATION_UNITS_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * A Go `time.ParseDuration` string (`300ms`, `1.5s`, `1m30s`, `-2h`, `0`) in nanoseconds.
 * Throws on anything else. (Exact up to ~104 days, far beyond any route timeout.)
 */
export function parseGoDuration(text: string): number {
  const source = text.trim();
  let rest = source;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const match = part.exec(rest);
    if (match === null) {
      throw new Error(`invalid duration ${JSON.stringify(text)} (expected e.g. 300ms, 1.5s, 1m30s)`);
    }
    total += Number(match[1]) * (DURATION_UNITS_NS[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return sign * Math.round(total);
}

export function nsToDuration(ns: number): DurationMessage {
  const seconds = Math.trunc(ns / 1e9);
  return { seconds, nanos: Math.round(ns - seconds * 1e9) };
}

/**
 * A Kubernetes quantity (`500m`, `1`, `0.5`, `2k`, `1Ki`, `1e3`) or a plain number as its milli-value,
 * rounded up like `resource.Quantity.MilliValue()`. Throws when invalid, negative or above 2^32-1.
 */
export function quantityToMilli(value: number | string): number {
  let milli: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid quantity ${value}`);
    milli = value * 1000;
  } else {
    const parsed = parseQuantity(value);
    if (parsed === undefined) throw new Error(`invalid quantity ${JSON.stringify(value)} (expected e.g. 500m, 1, 0.25)`);
    milli = parsed * 1000;
  }
  // Float noise (0.1 * 1000 = 100.00000000000001) must not round up to 101.
  const rounded = Math.ceil(Number(milli.toPrecision(12)));
  if (rounded < 0) throw new Error(`negative quantity ${JSON.stringify(value)}`);
  if (rounded > 0xffffffff) throw new Error(`quantity ${JSON.stringify(value)} is too large for a weight`);
  return rounded === 0 ? 0 : rounded; // no -0
}

export class TranslateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranslateError';
  }
}

export function toHttpMethod(method: string): HttpMethodMessage {
  const upper = method.toUpperCase();
  return REGISTERED_METHODS.has(upper) ? { registered: upper } : { unregistered: method };
}

/** A request condition; several fields set at once mean all of them (Linkerd's rule). */
export function toRequestMatch(spec: RequestMatchSpec | undefined): RequestMatchMessage {
  if (spec === undefined || spec === null || typeof spec !== 'object') {
    throw new TranslateError('a request condition must be an object');
  }
  const matches: RequestMatchMessage[] = [];
  if (spec.all !== undefined) matches.push({ all: { matches: list(spec.all, 'all').map(toRequestMatch) } });
  if (spec.any !== undefined) matches.push({ any: { matches: list(spec.any, 'any').map(toRequestMatch) } });
  if (spec.method !== undefined) {
    if (typeof spec.method !== 'string' || spec.method === '') throw new TranslateError('method must be a string');
    matches.push({ method: toHttpMethod(spec.method) });
  }
  if (spec.not !== undefined) matches.push({ not: toRequestMatch(spec.not) });
  if (spec.pathRegex !== undefined) {
    if (typeof spec.pathRegex !== 'string') throw new TranslateError('pathRegex must be a string');
    matches.push({ path: { regex: spec.pathRegex } });
  }
  return combine(matches, 'request', (all) => ({ all: { matches: all } }));
}

/** A response condition; an open status bound defaults to 100 (min) or 599 (max). */
export function toResponseMatch(spec: ResponseMatchSpec | undefined): ResponseMatchMessage {
  if (spec === undefined || spec === null || typeof spec !== 'object') {
    throw new TranslateError('a response condition must be an object');
  }
  const matches: ResponseMatchMessage[] = [];
  if (spec.all !== undefined) matches.push({ all: { matches: list(spec.all, 'all').map(toResponseMatch) } });
  if (spec.any !== undefined) matches.push({ any: { matches: list(spec.any, 'any').map(toResponseMatch) } });
  if (spec.not !== undefined) matches.push({ not: toResponseMatch(spec.not) });
  if (spec.status !== undefined) {
    const min = spec.status.min ?? 100;
    const max = spec.status.max ?? 599;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 100 || max > 599 || min > max) {
      throw new TranslateError(`status range ${min}–${max} must be within 100–599 with min ≤ max`);
    }
    matches.push({ status: { min, max } });
  }
  return combine(matches, 'response', (all) => ({ all: { matches: all } }));
}

function list<T>(value: readonly T[], field: string): readonly T[] {
  if (!Array.isArray(value)) throw new TranslateError(`${field} must be a list`);
  return value;
}

function combine<T>(matches: T[], what: string, all: (matches: T[]) => T): T {
  if (matches.length === 0) throw new TranslateError(`a ${what} condition must set at least one field`);
  return matches.length === 1 ? (matches[0] as T) : all(matches);
}

export function toRoute(route: RouteSpec): RouteMessage {
  if (typeof route.name !== 'string' || route.name === '') throw new TranslateError('a route needs a name');
  const condition = toRequestMatch(route.condition);
  const response_classes = (route.responseClasses ?? []).map((rc) => ({
    condition: toResponseMatch(rc.condition),
    is_failure: rc.isFailure === true,
  }));
  let timeoutNs = DEFAULT_ROUTE_TIMEOUT_NS;
  if (route.timeout !== undefined && route.timeout !== '') {
    try {
      timeoutNs = parseGoDuration(String(route.timeout));
    } catch (error) {
      throw new TranslateError((error as Error).message);
    }
    if (timeoutNs < 0) throw new TranslateError(`negative timeout ${route.timeout}`);
  }
  return {
    condition,
    response_classes,
    metrics_labels: { route: route.name },
    is_retryable: route.isRetryable === true,
    timeout: nsToDuration(timeoutNs),
  };
}

export function toRetryBudget(budget: ProfileSpec['retryBudget']): RetryBudgetMessage {
  if (budget === undefined) return DEFAULT_RETRY_BUDGET;
  const { retryRatio, minRetriesPerSecond, ttl } = budget;
  if (typeof retryRatio !== 'number' || !Number.isFinite(retryRatio) || retryRatio < 0) {
    throw new TranslateError(`retryRatio ${String(retryRatio)} must be a number ≥ 0`);
  }
  if (!Number.isInteger(minRetriesPerSecond) || minRetriesPerSecond < 0 || minRetriesPerSecond > 0xffffffff) {
    throw new TranslateError(`minRetriesPerSecond ${String(minRetriesPerSecond)} must be a whole number ≥ 0`);
  }
  let ttlNs: number;
  try {
    ttlNs = parseGoDuration(String(ttl));
  } catch (error) {
    throw new TranslateError(`retryBudget.ttl: ${(error as Error).message}`);
  }
  if (ttlNs <= 0) throw new TranslateError(`retryBudget.ttl ${ttl} must be positive`);
  return { retry_ratio: retryRatio, min_retries_per_second: minRetriesPerSecond, ttl: nsToDuration(ttlNs) };
}

/** Appends `:port` to an authority that has none (`web.ns.svc.cluster.local` → `…:8080`). */
export function withPort(authority: string, port: number): string {
  if (/^\[[^\]]*\]:\d+$/.test(authority)) return authority;
  if (/^[^:\[\]]+:\d+$/.test(authority)) return authority;
  if (authority.includes(':') && !authority.startsWith('[')) return `[${authority}]:${port}`;
  return `${authority}:${port}`;
}

export interface TranslateOptions {
  /** `svc.ns.svc.<domain>` for names; '' for IP (endpoint) profiles. */
  readonly fullyQualifiedName: string;
  /** The requested port (for `opaque_protocol` and dst override authorities). */
  readonly port: number;
}

export interface Translated {
  readonly profile: DestinationProfileMessage;
  /** What was dropped, one line each, for the log. */
  readonly warnings: string[];
}

/** The profile sent when there is no ServiceProfile: no routes, the default retry budget. */
export function defaultProfile(options: TranslateOptions): DestinationProfileMessage {
  return {
    fully_qualified_name: options.fullyQualifiedName,
    opaque_protocol: false,
    routes: [],
    retry_budget: DEFAULT_RETRY_BUDGET,
    dst_overrides: [],
  };
}

export function translateProfile(spec: ProfileSpec | undefined, options: TranslateOptions): Translated {
  const warnings: string[] = [];
  if (spec === undefined) return { profile: defaultProfile(options), warnings };
  const routes: RouteMessage[] = [];
  for (const [i, route] of (spec.routes ?? []).entries()) {
    try {
      routes.push(toRoute(route));
    } catch (error) {
      warnings.push(`route ${i} (${JSON.stringify(route?.name ?? '')}) dropped: ${(error as Error).message}`);
    }
  }
  let retry_budget = DEFAULT_RETRY_BUDGET;
  try {
    retry_budget = toRetryBudget(spec.retryBudget);
  } catch (error) {
    warnings.push(`retryBudget replaced by the default: ${(error as Error).message}`);
  }
  const dst_overrides: WeightedDstMessage[] = [];
  for (const [i, dst] of (spec.dstOverrides ?? []).entries()) {
    try {
      if (typeof dst.authority !== 'string' || dst.authority === '') throw new Error('authority must be set');
      dst_overrides.push({ authority: withPort(dst.authority, options.port), weight: quantityToMilli(dst.weight) });
    } catch (error) {
      warnings.push(`dstOverrides ${i} dropped: ${(error as Error).message}`);
    }
  }
  const opaque_protocol = (spec.opaquePorts ?? []).some((p) => Number(p) === options.port);
  return {
    profile: { fully_qualified_name: options.fullyQualifiedName, opaque_protocol, routes, retry_budget, dst_overrides },
    warnings,
  };
}

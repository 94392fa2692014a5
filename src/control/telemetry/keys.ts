// The telemetry store's vocabulary: what a key is (reporting side, scope, destination), what a query
// answers, and the pure rules for reading a report's labels into a key (destination, classification).
// Shared by the embedded store and the Prometheus backend's translation of its answers.
import type { EosCtx } from '../../api/telemetry-messages.ts';
import { percentilesOfDense } from '../../telemetry/exact-latency.ts';
import type { SparseLatency } from './sparse-latency.ts';

export type Direction = 'inbound' | 'outbound';
/** `svc`: requests as the proxy saw them; `route`/`actual`: per ServiceProfile route (actual = every attempt); `tcp`: connections. */
export type ScopeKind = 'svc' | 'route' | 'actual' | 'tcp';

export interface StatKey {
  readonly namespace: string;
  readonly pod: string;
  /** `<kind>/<name>` (`deployment/web`), '' when the proxy did not say. */
  readonly workload: string;
  readonly direction: Direction;
  readonly scope: ScopeKind;
  readonly authority: string;
  /** The `rt_route` label of a route scope ('' = no route matched). */
  readonly route: string;
  readonly dstNamespace: string;
  readonly dstWorkload: string;
  readonly dstPod: string;
  readonly dstService: string;
}

export interface Aggregate {
  requests: number;
  success: number;
  failure: number;
  tlsRequests: number;
  opened: number;
  closed: number;
  readBytes: number;
  writeBytes: number;
  /** Sum of the latest open-connection gauges of the proxies that reported within the window. */
  openConnections: number;
  /** Dense latency counts (exact-latency layout), undefined when none; percentiles with `latencyPercentiles`. */
  latency: Float64Array | undefined;
  /**
   * The same counts kept sparse, where the source has them so (the embedded store: a row's latencies
   * are a few dozen values, where a dense array is 26 KB to fill and scan per row); `latency` is then
   * made from them only when read.
   */
  readonly sparseLatency?: SparseLatency | undefined;
  /**
   * The embedded store's correction for the time its counts cover (coverage.ts): a rate is the counts
   * over `rateSeconds(agg, seconds)`. Undefined (Prometheus's answers) or 1: the window's seconds.
   */
  readonly coverageScale?: number;
}

/** The seconds to divide an aggregate's counts by for a rate: the window's, corrected by its coverage. */
export function rateSeconds(agg: Aggregate | undefined, seconds: number): number {
  const scale = agg?.coverageScale;
  return scale !== undefined && scale > 0 ? seconds / scale : seconds;
}

/** Which keys a query can use at all: reading only those saves visiting the rest of a large mesh. */
export interface KeyClasses {
  readonly directions?: readonly Direction[];
  readonly scopes?: readonly ScopeKind[];
  /**
   * `groupOf` reads only a key's namespace, workload, direction and scope: the store may answer from
   * per-workload rollups (the same sums over fewer series; their keys have no pod, authority, route or
   * destination).
   */
  readonly byWorkload?: boolean;
}

export interface QueryResult {
  /** Seconds the window covers (for rates): the window, less any part before the store started. */
  readonly seconds: number;
  readonly groups: Map<string, Aggregate>;
}

export interface PodReport {
  readonly namespace: string;
  readonly pod: string;
  readonly workload: string;
  readonly lastReport: number;
  readonly firstReport: number;
  readonly reportIntervalMs: number;
}

/** Percentiles (µs) of an aggregate's latency counts, from the sparse form when it has one; zeros when none. */
export function latencyPercentiles(agg: Aggregate | undefined, quantiles: readonly number[]): number[] {
  if (agg?.sparseLatency !== undefined) return agg.sparseLatency.percentiles(quantiles);
  const dense = agg?.latency;
  return dense === undefined ? quantiles.map(() => 0) : percentilesOfDense(dense, quantiles);
}

export type Destination = Pick<StatKey, 'dstNamespace' | 'dstWorkload' | 'dstPod' | 'dstService'>;

export const classOf = (direction: Direction, scope: ScopeKind): string => `${direction}:${scope}`;

export const NO_DESTINATION = { dstNamespace: '', dstWorkload: '', dstPod: '', dstService: '' } as const;

/** Owner kinds in Destination metric labels, most specific workload first. */
const OWNER_KINDS = ['deployment', 'statefulset', 'daemonset', 'cronjob', 'job', 'replicationcontroller', 'replicaset'] as const;

/** Whether Destination metric labels give the destination fields of `key` (destination() without allocating). */
export function sameDestination(key: StatKey, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (labels === undefined) return key.dstNamespace === '' && key.dstWorkload === '' && key.dstPod === '' && key.dstService === '';
  if (key.dstNamespace !== (labels['namespace'] ?? '') || key.dstPod !== (labels['pod'] ?? '') || key.dstService !== (labels['service'] ?? '')) return false;
  for (const kind of OWNER_KINDS) {
    const name = labels[kind];
    if (name !== undefined && name !== '') {
      const w = key.dstWorkload;
      return w.length === kind.length + 1 + name.length && w.startsWith(kind) && w.charCodeAt(kind.length) === 47 && w.endsWith(name);
    }
  }
  return key.dstWorkload === '';
}

/** The destination fields of a key from Destination metric labels (Linkerd's dst_* without the prefix). */
export function destination(labels: Readonly<Record<string, string>>): Pick<StatKey, 'dstNamespace' | 'dstWorkload' | 'dstPod' | 'dstService'> {
  let dstWorkload = '';
  for (const kind of OWNER_KINDS) {
    const name = labels[kind];
    if (name !== undefined && name !== '') {
      dstWorkload = `${kind}/${name}`;
      break;
    }
  }
  return {
    dstNamespace: labels['namespace'] ?? '',
    dstWorkload,
    dstPod: labels['pod'] ?? '',
    dstService: labels['service'] ?? '',
  };
}

/** Linkerd's classification when the proxy did not send one: 5xx, a gRPC status other than OK, or a proxy error fail. */
export function classify(status: number, end: EosCtx): 'success' | 'failure' {
  if (end.classification === 'success' || end.classification === 'failure') return end.classification;
  if (end.error !== undefined && end.error !== '') return 'failure';
  if (end.end === 'reset_error_code' || end.reset_error_code !== undefined) return 'failure';
  if (end.end === 'grpc_status_code' || end.grpc_status_code !== undefined) return (end.grpc_status_code ?? 0) === 0 ? 'success' : 'failure';
  return status >= 500 ? 'failure' : 'success';
}


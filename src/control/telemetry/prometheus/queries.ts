// The PromQL the Prometheus backend asks, built from the same key classes the embedded store serves:
// Linkerd's golden-metric queries (wire-facts §3: `sum(increase(response_total[w])) by (…,
// classification, tls)`, latency buckets by `le`, `tcp_open_connections` as a gauge), grouped by every
// label that makes up a telemetry key, so that the public API's code can group the results exactly as
// it groups the store's keys. Pure: no I/O.
//
// Labels a series carries: the proxy's own (direction, authority, tls, classification, dst_*, rt_*,
// peer), and the ones the scrape adds for the pod it came from (docs/controller.md): `namespace`,
// `pod`, and the owning workload as a label named by its kind (`deployment="web"`; `k8s_job` for a Job,
// since `job` is Prometheus's own scrape-job label).
import type { Direction, KeyClasses, ScopeKind } from '../keys.ts';

/** Owner kinds, most specific workload first (as the store's), with the label each has on a series. */
export const SOURCE_OWNER_LABELS: ReadonlyArray<readonly [kind: string, label: string]> = [
  ['deployment', 'deployment'],
  ['statefulset', 'statefulset'],
  ['daemonset', 'daemonset'],
  ['cronjob', 'cronjob'],
  ['job', 'k8s_job'],
  ['replicationcontroller', 'replicationcontroller'],
  ['replicaset', 'replicaset'],
];
/** Destination metric labels the store reads (store.ts `destination`), as the proxy prefixes them. */
export const DESTINATION_LABELS: readonly string[] = ['namespace', 'pod', 'service', 'deployment', 'statefulset', 'daemonset', 'cronjob', 'job', 'replicationcontroller', 'replicaset'].map(
  (name) => `dst_${name}`,
);
const SOURCE_LABELS: readonly string[] = ['namespace', 'pod', ...SOURCE_OWNER_LABELS.map(([, label]) => label)];

/** What one query's samples add to an aggregate. */
export type QueryPart = 'responses' | 'latency' | 'actualResponses' | 'opened' | 'closed' | 'readBytes' | 'writeBytes' | 'openConnections';

export interface KeyQuery {
  readonly scope: ScopeKind;
  readonly part: QueryPart;
  readonly promql: string;
}

/** A window as PromQL writes a range: whole seconds (`60s`). */
export function rangeOf(windowMs: number): string {
  if (!(windowMs >= 1000)) throw new Error(`a window of ${windowMs} ms is too short for Prometheus`);
  return `${Math.round(windowMs / 1000)}s`;
}

function by(labels: readonly string[]): string {
  return `(${labels.join(', ')})`;
}

/** `metric{direction=…}` selectors, one per direction asked for (joined with `or` by the caller). */
function selectors(metric: string, directions: readonly Direction[], extra: (direction: Direction) => string = () => ''): string[] {
  return directions.map((direction) => `${metric}{direction="${direction}"${extra(direction)}}`);
}

function increase(metric: string, directions: readonly Direction[], range: string, extra?: (direction: Direction) => string): string {
  return selectors(metric, directions, extra)
    .map((selector) => `increase(${selector}[${range}])`)
    .join(' or ');
}

/** TCP series of a direction are the proxy's accepted side inbound, its connecting side outbound (as reports carry them). */
const peerOf = (direction: Direction): string => `,peer="${direction === 'inbound' ? 'src' : 'dst'}"`;

/** The queries that fill the aggregates of the key classes `only` names (all of them when undefined). */
export function keyQueries(windowMs: number, only?: KeyClasses): KeyQuery[] {
  const range = rangeOf(windowMs);
  const directions = only?.directions ?? ['inbound', 'outbound'];
  const scopes = only?.scopes ?? ['svc', 'route', 'actual', 'tcp'];
  const source = [...SOURCE_LABELS, 'direction'];
  const out: KeyQuery[] = [];
  const sum = (labels: readonly string[], inner: string): string => `sum by ${by(labels)} (${inner})`;
  if (scopes.includes('svc')) {
    const key = [...source, 'authority', ...DESTINATION_LABELS];
    out.push({ scope: 'svc', part: 'responses', promql: sum([...key, 'tls', 'classification'], increase('response_total', directions, range)) });
    out.push({ scope: 'svc', part: 'latency', promql: sum([...key, 'le'], increase('response_latency_ms_bucket', directions, range)) });
  }
  if (scopes.includes('route')) {
    const key = [...source, 'dst', 'rt_route'];
    out.push({ scope: 'route', part: 'responses', promql: sum([...key, 'tls', 'classification'], increase('route_response_total', directions, range)) });
    out.push({ scope: 'route', part: 'latency', promql: sum([...key, 'le'], increase('route_response_latency_ms_bucket', directions, range)) });
  }
  if (scopes.includes('actual')) {
    const key = [...source, 'dst', 'rt_route'];
    out.push({ scope: 'actual', part: 'responses', promql: sum([...key, 'tls', 'classification'], increase('route_actual_response_total', directions, range)) });
  }
  if (scopes.includes('tcp')) {
    const key = [...source, ...DESTINATION_LABELS];
    const counters: Array<readonly [QueryPart, string]> = [
      ['opened', 'tcp_open_total'],
      ['closed', 'tcp_close_total'],
      ['readBytes', 'tcp_read_bytes_total'],
      ['writeBytes', 'tcp_write_bytes_total'],
    ];
    for (const [part, metric] of counters) out.push({ scope: 'tcp', part, promql: sum(key, increase(metric, directions, range, peerOf)) });
    out.push({ scope: 'tcp', part: 'openConnections', promql: sum(key, selectors('tcp_open_connections', directions, peerOf).join(' or ')) });
  }
  return out;
}

// StatSummary: golden metrics per resource from the telemetry store, the way Linkerd's `stat` derives
// them (wire-facts §3): a resource's own stats are the inbound requests its pods answered; `--to R`
// rows are the outbound requests of each row resource whose destination is R; `--from R` rows are the
// outbound requests R sent, grouped by their destination. Success rate = success / (success + failure),
// RPS = responses / window, latency percentiles from the merged exact (HDR) latencies, TCP_CONN from
// the proxies' latest open-connection gauges, bytes over the window.
import type { BasicStats, Resource, StatRow, StatSummaryRequest, StatSummaryResponse, StatTable } from '../../api/public-messages.ts';
import type { PodInfo } from '../discovery/types.ts';
import type { Aggregate, StatKey } from '../telemetry/store.ts';
import type { TelemetryView } from '../telemetry/view.ts';
import { latencyPercentiles, rateSeconds } from '../telemetry/keys.ts';
import {
  canonicalType,
  destinationName,
  isWorkloadType,
  matchesDestination,
  matchesSource,
  sourceName,
  workloadOf,
  type ResourceRef,
  type ResourceType,
} from './resources.ts';

export interface StatSources {
  readonly store: TelemetryView;
  readonly pods: () => readonly PodInfo[];
  readonly now?: () => number;
}

export const DEFAULT_WINDOW = '1m';
const MAX_WINDOW_MS = 60 * 60_000;
/** Tables `stat all` shows, in order (services only with --from). */
const ALL_TYPES: readonly ResourceType[] = ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'pod'];

export class RequestError extends Error {}

/** `10s`, `1m`, `10m`, `1h` (any whole number of s, m or h up to an hour). */
export function parseWindow(text: string | undefined): { label: string; ms: number } {
  const label = text === undefined || text === '' ? DEFAULT_WINDOW : text;
  const match = /^(\d+)(s|m|h)$/.exec(label);
  const ms = match === null ? NaN : Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  if (!(ms >= 1000 && ms <= MAX_WINDOW_MS)) throw new RequestError(`invalid time window "${label}": expected 10s, 1m, 10m or 1h (at most 1h)`);
  return { label, ms };
}

/** A request Resource as a ResourceRef; `fallbackNamespace` fills a missing namespace. */
export function resourceRef(resource: Resource | undefined, fallbackNamespace: string, allowAll: boolean): ResourceRef | 'all' {
  const type = canonicalType(resource?.type ?? '');
  if (type === undefined) throw new RequestError(`unknown resource type "${resource?.type ?? ''}"`);
  if (type === 'all') {
    if (!allowAll) throw new RequestError('"all" can only be the resource type of the selector');
    return 'all';
  }
  const namespace = type === 'namespace' ? '' : (resource?.namespace || fallbackNamespace);
  return { type, namespace, name: resource?.name ?? '' };
}

/** Percentiles and counts of an aggregate as BasicStats. */
export function basicStats(agg: Aggregate, actual?: Aggregate): BasicStats {
  const [p50 = 0, p95 = 0, p99 = 0] = latencyPercentiles(agg, [0.5, 0.95, 0.99]);
  return {
    success_count: agg.success,
    failure_count: agg.failure,
    latency_ms_p50: Math.round(p50 / 1000),
    latency_ms_p95: Math.round(p95 / 1000),
    latency_ms_p99: Math.round(p99 / 1000),
    actual_success_count: actual?.success ?? agg.success,
    actual_failure_count: actual?.failure ?? agg.failure,
    tls_request_count: agg.tlsRequests,
    latency_us_p50: p50,
    latency_us_p95: p95,
    latency_us_p99: p99,
  };
}

export function statSummary(sources: StatSources, request: StatSummaryRequest): StatSummaryResponse {
  const selected = request.selector?.resource ?? {};
  try {
    const window = parseWindow(request.time_window);
    const selector = resourceRef(selected, '', true);
    const outbound = request.outbound ?? (request.to_resource !== undefined ? 'to_resource' : request.from_resource !== undefined ? 'from_resource' : 'none');
    const to = outbound === 'to_resource' ? (resourceRef(request.to_resource, selected.namespace ?? '', false) as ResourceRef) : undefined;
    const from = outbound === 'from_resource' ? (resourceRef(request.from_resource, selected.namespace ?? '', false) as ResourceRef) : undefined;
    if (from?.type === 'service') throw new RequestError('a service sends no traffic: it can be a --to destination or a row with --from, not a --from source');
    const types = selector === 'all' ? [...ALL_TYPES, ...(from !== undefined ? (['service'] as const) : [])] : [selector.type];
    if (selector !== 'all' && selector.type === 'service' && from === undefined) {
      throw new RequestError('service stats are measured by the clients: use --from with a service, or name the service with --to');
    }
    const namespace = selector === 'all' ? (selected.namespace ?? '') : selector.namespace;
    const name = selector === 'all' ? '' : selector.name;
    const tables: StatTable[] = [];
    for (const type of types) {
      const rows = statRows(sources, { type, namespace: type === 'namespace' ? '' : namespace, name }, window, { to, from }, request);
      if (rows.length > 0 || selector !== 'all') tables.push({ pod_group: { rows } });
    }
    return { ok: { stat_tables: tables } };
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    return { error: { resource: selected, error: error.message } };
  }
}

interface RowTarget {
  readonly namespace: string;
  readonly name: string;
}

function statRows(
  sources: StatSources,
  selector: ResourceRef,
  window: { label: string; ms: number },
  direction: { to: ResourceRef | undefined; from: ResourceRef | undefined },
  request: StatSummaryRequest,
): StatRow[] {
  const now = (sources.now ?? Date.now)();
  const { type } = selector;
  const wanted = (target: RowTarget): boolean =>
    (selector.namespace === '' || target.namespace === selector.namespace) && (selector.name === '' || target.name === selector.name);

  const ownTraffic = direction.to === undefined && direction.from === undefined;
  const rowOf = (key: StatKey): RowTarget | undefined => {
    if (key.scope !== 'svc' && key.scope !== 'tcp') return undefined;
    let target: RowTarget | undefined;
    if (direction.to !== undefined) {
      if (key.direction !== 'outbound' || !matchesDestination(direction.to, key)) return undefined;
      target = sourceName(type, key);
    } else if (direction.from !== undefined) {
      if (key.direction !== 'outbound' || !matchesSource(direction.from, key)) return undefined;
      target = destinationName(type, key);
    } else {
      if (key.direction !== 'inbound') return undefined;
      target = sourceName(type, key);
    }
    return target !== undefined && wanted(target) ? target : undefined;
  };
  const result = sources.store.query(
    window.ms,
    (key) => {
      const target = rowOf(key);
      return target === undefined ? undefined : `${target.namespace}/${target.name}\u0001${key.scope}`;
    },
    now,
    {
      directions: [ownTraffic ? 'inbound' : 'outbound'],
      scopes: ['svc', 'tcp'],
      // Workload and namespace rows of their own traffic read only the reporting workload: rollups do.
      byWorkload: ownTraffic && (type === 'namespace' || isWorkloadType(type)),
    },
  );

  // Rows: every resource discovery knows, every resource with traffic, and the one asked for by name.
  const rows = new Map<string, RowTarget>();
  const podsByRow = new Map<string, PodInfo[]>();
  for (const pod of sources.pods()) {
    const target = podTarget(type, pod);
    if (target === undefined || !wanted(target)) continue;
    const id = `${target.namespace}/${target.name}`;
    rows.set(id, target);
    let list = podsByRow.get(id);
    if (list === undefined) podsByRow.set(id, (list = []));
    list.push(pod);
  }
  for (const group of result.groups.keys()) {
    const id = group.slice(0, group.indexOf('\u0001'));
    if (!rows.has(id)) {
      const slash = id.indexOf('/');
      rows.set(id, { namespace: id.slice(0, slash), name: id.slice(slash + 1) });
    }
  }
  // Pods that report but discovery does not know (a proxy run by hand) count as meshed and running.
  const fresh = Math.max(window.ms, 30_000);
  const reporting = new Map<string, number>();
  for (const report of sources.store.reportingPods()) {
    if (report.lastReport < now - Math.max(fresh, 3 * report.reportIntervalMs)) continue;
    const key: StatKey = {
      namespace: report.namespace,
      pod: report.pod,
      workload: report.workload,
      direction: 'inbound',
      scope: 'svc',
      authority: '',
      route: '',
      dstNamespace: '',
      dstWorkload: '',
      dstPod: '',
      dstService: '',
    };
    const target = type === 'authority' || type === 'service' ? undefined : sourceName(type, key);
    if (target === undefined || !wanted(target)) continue;
    const id = `${target.namespace}/${target.name}`;
    if (direction.to === undefined && direction.from === undefined && !rows.has(id)) rows.set(id, target);
    reporting.set(id, (reporting.get(id) ?? 0) + 1);
  }
  // A resource asked for by name gets its row even without pods or traffic (its stats show as `-`).
  if (selector.name !== '' && (selector.namespace !== '' || type === 'namespace')) {
    const target = { namespace: selector.namespace, name: selector.name };
    if (!rows.has(`${target.namespace}/${target.name}`)) rows.set(`${target.namespace}/${target.name}`, target);
  }

  const out: StatRow[] = [];
  for (const [id, target] of [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const pods = podsByRow.get(id) ?? [];
    // Finished pods are hidden unless asked for by name (as Conduit and Linkerd do).
    if (type === 'pod' && selector.name === '' && pods.every((p) => p.phase === 'Succeeded' || p.phase === 'Failed') && pods.length > 0 && !result.groups.has(`${id}\u0001svc`)) continue;
    let running = pods.filter((p) => p.phase === 'Running').length;
    let meshed = pods.filter((p) => p.phase === 'Running' && p.meshed).length;
    const failed = pods.filter((p) => p.phase === 'Failed').length;
    if (pods.length === 0 && (isWorkloadType(type) || type === 'pod' || type === 'namespace')) {
      running = meshed = reporting.get(id) ?? 0;
    }
    const row: StatRow = {
      resource: { namespace: target.namespace, type, name: target.name },
      time_window: window.label,
      meshed_pod_count: meshed,
      running_pod_count: running,
      failed_pod_count: failed,
      errors_by_pod: {},
      window_seconds: rateSeconds(result.groups.get(`${id}\u0001svc`) ?? result.groups.get(`${id}\u0001tcp`), result.seconds),
    };
    if (type === 'pod') row.status = pods[0]?.phase ?? (running > 0 ? 'Running' : '');
    if (request.skip_stats !== true) {
      const requests = result.groups.get(`${id}\u0001svc`);
      if (requests !== undefined && requests.success + requests.failure > 0) row.stats = basicStats(requests);
      const tcp = result.groups.get(`${id}\u0001tcp`);
      if (request.tcp_stats === true && (tcp !== undefined || row.stats !== undefined)) {
        row.tcp_stats = { open_connections: tcp?.openConnections ?? 0, read_bytes_total: tcp?.readBytes ?? 0, write_bytes_total: tcp?.writeBytes ?? 0 };
      }
    }
    out.push(row);
  }
  return out;
}

/** Which row of `type` a pod belongs to (discovery side). */
function podTarget(type: ResourceType, pod: PodInfo): RowTarget | undefined {
  if (type === 'pod') return { namespace: pod.namespace, name: pod.name };
  if (type === 'namespace') return { namespace: '', name: pod.namespace };
  if (!isWorkloadType(type)) return undefined;
  const workload = workloadOf(pod);
  return workload.startsWith(`${type}/`) ? { namespace: pod.namespace, name: workload.slice(type.length + 1) } : undefined;
}

// Who calls whom: the topology graph's edges, from StatSummary `--from` queries, one per workload that
// sends traffic (`sluice stat all --from deploy/web` gives every workload web sent requests to, as web's
// proxies measured them). One query per source keeps to the public API as it is; the number of
// sources asked per refresh is bounded, and the answer says how many were left out.
import type { TopologyEdge, TopologyNode, TopologyResponse } from '../../api/dashboard-messages.ts';
import type { StatRow, StatSummaryRequest, StatSummaryResponse } from '../../api/public-messages.ts';

/** Sources asked about per refresh (each is one StatSummary). */
export const MAX_SOURCES = 100;
/** Row types that are workloads (the graph's nodes); pods and services are other views of them. */
const WORKLOAD_TYPES = new Set(['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller']);

export function nodeOf(row: StatRow): TopologyNode | undefined {
  const r = row.resource;
  if (r?.type === undefined || !WORKLOAD_TYPES.has(r.type) || (r.name ?? '') === '') return undefined;
  return { id: `${r.type}/${r.namespace ?? ''}/${r.name}`, type: r.type, namespace: r.namespace ?? '', name: r.name as string };
}

function workloadRows(response: StatSummaryResponse): StatRow[] {
  return (response.ok?.stat_tables ?? []).flatMap((t) => t.pod_group?.rows ?? []).filter((row) => nodeOf(row) !== undefined);
}

/** The request listing every workload in `namespace` ('' = all) with its own (inbound) stats. */
export function workloadsRequest(namespace: string, window: string): StatSummaryRequest {
  return { selector: { resource: { namespace, type: 'all', name: '' } }, time_window: window, none: {} };
}

/** The request for what `source` sent, grouped by destination. */
export function fromRequest(source: TopologyNode, window: string): StatSummaryRequest {
  return {
    selector: { resource: { namespace: '', type: 'all', name: '' } },
    time_window: window,
    from_resource: { namespace: source.namespace, type: source.type, name: source.name },
  };
}

/** An edge per destination row that saw requests from `source`. */
export function edgesFrom(source: TopologyNode, response: StatSummaryResponse): TopologyEdge[] {
  const edges: TopologyEdge[] = [];
  for (const row of workloadRows(response)) {
    const stats = row.stats ?? undefined;
    const to = nodeOf(row) as TopologyNode;
    if (stats === undefined) continue;
    const ok = Number(stats.success_count ?? 0);
    const total = ok + Number(stats.failure_count ?? 0);
    if (total === 0) continue;
    const seconds = row.window_seconds !== undefined && row.window_seconds > 0 ? row.window_seconds : 60;
    edges.push({ from: source.id, to: to.id, rps: total / seconds, success: ok / total, p99Ms: Number(stats.latency_ms_p99 ?? 0) });
  }
  return edges;
}

export type StatCall = (request: StatSummaryRequest) => Promise<StatSummaryResponse>;

/**
 * Nodes: every workload of `namespace` and every workload an edge reaches. Sources: the workloads with
 * meshed pods (only a proxy reports what it sent), at most `maxSources`.
 */
export async function topology(stat: StatCall, namespace: string, window: string, maxSources = MAX_SOURCES): Promise<TopologyResponse> {
  const listed = workloadRows(await stat(workloadsRequest(namespace, window)));
  const nodes = new Map<string, TopologyNode>();
  for (const row of listed) {
    const node = nodeOf(row) as TopologyNode;
    nodes.set(node.id, node);
  }
  const sources = listed.filter((row) => Number(row.meshed_pod_count ?? 0) > 0).map((row) => nodeOf(row) as TopologyNode);
  const asked = sources.slice(0, maxSources);
  const answers = await Promise.all(asked.map((source) => stat(fromRequest(source, window))));
  const edges = asked.flatMap((source, i) => edgesFrom(source, answers[i] as StatSummaryResponse));
  for (const edge of edges) {
    if (!nodes.has(edge.to)) {
      const [type = '', ns = '', ...name] = edge.to.split('/');
      nodes.set(edge.to, { id: edge.to, type, namespace: ns, name: name.join('/') });
    }
  }
  const sorted = [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  return { window, nodes: sorted, edges, truncated: sources.length - asked.length };
}

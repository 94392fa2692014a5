// Numbers as the page shows them, the way `sluice stat` prints them (src/cli/format.ts): success as a
// percentage with two decimals, RPS with one, latency in ms. Pure, so the tests run it under Node.
import type { StatRow, StatSummaryResponse } from '../api/public-messages.ts';

export const NO_VALUE = '-';

/** The golden metrics of one StatSummary row; null where the row had no traffic. */
export interface RowNumbers {
  readonly namespace: string;
  readonly type: string;
  readonly name: string;
  readonly meshed: number;
  readonly running: number;
  readonly status: string;
  readonly success: number | null;
  readonly rps: number | null;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly tcpConnections: number | null;
}

export function rowNumbers(row: StatRow): RowNumbers {
  const stats = row.stats ?? undefined;
  const ok = Number(stats?.success_count ?? 0);
  const total = ok + Number(stats?.failure_count ?? 0);
  const seconds = row.window_seconds !== undefined && row.window_seconds > 0 ? row.window_seconds : 60;
  return {
    namespace: row.resource?.namespace ?? '',
    type: row.resource?.type ?? '',
    name: row.resource?.name ?? '',
    meshed: Number(row.meshed_pod_count ?? 0),
    running: Number(row.running_pod_count ?? 0),
    status: row.status ?? '',
    success: stats === undefined || total === 0 ? null : ok / total,
    rps: stats === undefined ? null : total / seconds,
    p50Ms: stats === undefined ? null : Number(stats.latency_ms_p50 ?? 0),
    p95Ms: stats === undefined ? null : Number(stats.latency_ms_p95 ?? 0),
    p99Ms: stats === undefined ? null : Number(stats.latency_ms_p99 ?? 0),
    tcpConnections: row.tcp_stats === undefined || row.tcp_stats === null ? null : Number(row.tcp_stats.open_connections ?? 0),
  };
}

/** Every row of a StatSummary answer, by resource type (`deployment`, `pod` …), tables in answer order. */
export function rowsByType(response: StatSummaryResponse | undefined): Map<string, RowNumbers[]> {
  const byType = new Map<string, RowNumbers[]>();
  for (const table of response?.ok?.stat_tables ?? []) {
    for (const row of table.pod_group?.rows ?? []) {
      const numbers = rowNumbers(row);
      let list = byType.get(numbers.type);
      if (list === undefined) byType.set(numbers.type, (list = []));
      list.push(numbers);
    }
  }
  return byType;
}

export function formatSuccess(success: number | null): string {
  return success === null ? NO_VALUE : `${(success * 100).toFixed(2)}%`;
}

export function formatRps(rps: number | null): string {
  return rps === null ? NO_VALUE : `${rps.toFixed(1)}`;
}

export function formatLatency(ms: number | null): string {
  return ms === null ? NO_VALUE : `${ms} ms`;
}

export function formatMeshed(meshed: number, running: number): string {
  return `${meshed}/${running}`;
}

export function formatMicros(us: number | undefined): string {
  if (us === undefined) return NO_VALUE;
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** How healthy a success rate looks, for colour (always paired with the number itself). */
export function successLevel(success: number | null): 'good' | 'warn' | 'bad' | 'none' {
  if (success === null) return 'none';
  if (success >= 0.99) return 'good';
  if (success >= 0.9) return 'warn';
  return 'bad';
}

/** The short kind Linkerd's CLI uses: `deploy/web`. */
export const SHORT_TYPES: Readonly<Record<string, string>> = {
  deployment: 'deploy',
  statefulset: 'sts',
  daemonset: 'ds',
  job: 'job',
  cronjob: 'cj',
  replicationcontroller: 'rc',
  pod: 'po',
  service: 'svc',
  namespace: 'ns',
};

/** A heading for a table of `type`: `Deployments`. */
export function typeTitle(type: string): string {
  const titles: Record<string, string> = {
    deployment: 'Deployments',
    statefulset: 'StatefulSets',
    daemonset: 'DaemonSets',
    job: 'Jobs',
    cronjob: 'CronJobs',
    replicationcontroller: 'ReplicationControllers',
    pod: 'Pods',
    service: 'Services',
    namespace: 'Namespaces',
  };
  return titles[type] ?? type;
}

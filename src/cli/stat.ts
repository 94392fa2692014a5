// `sluice stat`: golden metrics per resource, from the controller's StatSummary (Linkerd's `stat`).
import { defaultNamespace } from './namespace.ts';
import { parseArgs } from 'node:util';
import type { StatRow, StatSummaryRequest, StatSummaryResponse } from '../api/public-messages.ts';
import { SHORT_NAMES, type ResourceType } from '../api/resource-types.ts';
import { ApiClient, apiBaseUrl, CliError } from './api-client.ts';
import { formatByteRate, formatLatency, formatMeshed, formatRps, formatSecured, formatSuccess, NO_VALUE, renderTable, windowSeconds, type Column } from './format.ts';
import type { CliIo } from './io.ts';
import { parseResourceFlag, parseTargets } from './targets.ts';

export const STAT_USAGE = `Display traffic stats about one or many resources.

Usage:
  sluice stat [flags] (TYPE [NAME...] | TYPE/NAME...)

TYPE is one of: deploy (deployment), sts, ds, job, po (pod), ns (namespace), svc (service: only with
--from, or as --to), au (authority), all.

Examples:
  sluice stat deploy -n emojivoto          every deployment in emojivoto
  sluice stat deploy/web -t 10m            one deployment over ten minutes
  sluice stat po --all-namespaces          every pod
  sluice stat deploy --to svc/books        what each deployment sends to the books service
  sluice stat deploy --from deploy/web     what web sends to each deployment

Flags:
  -n, --namespace NS        namespace of the resources (default "default")
  -A, --all-namespaces      resources in every namespace
  -t, --time-window WINDOW  10s, 1m, 10m or 1h (default 1m)
      --to RESOURCE         only requests sent to RESOURCE (TYPE/NAME)
      --to-namespace NS     namespace of --to (default: --namespace)
      --from RESOURCE       only requests sent by RESOURCE (TYPE/NAME)
      --from-namespace NS   namespace of --from (default: --namespace)
  -o, --output FORMAT       table (default), wide (adds byte rates and SECURED, the share of requests
                            that went over mTLS) or json
      --api HOST:PORT       the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
  -h, --help
`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  'time-window': { type: 'string', short: 't' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  from: { type: 'string' },
  'from-namespace': { type: 'string' },
  output: { type: 'string', short: 'o' },
  api: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type OutputFormat = 'table' | 'wide' | 'json';

export function outputFormat(value: string | undefined): OutputFormat {
  const format = value ?? 'table';
  if (format !== 'table' && format !== 'wide' && format !== 'json') throw new CliError(`--output must be table, wide or json, not "${format}"`, 2);
  return format;
}

export function timeWindow(value: string | undefined): string {
  const window = value ?? '1m';
  const seconds = windowSeconds(window);
  if (seconds === undefined || seconds < 1 || seconds > 3600) throw new CliError(`--time-window must be a duration such as 10s, 1m, 10m or 1h (at most 1h), not "${window}"`, 2);
  return window;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(STAT_USAGE);
    return 0;
  }
  const targets = parseTargets(positionals);
  const output = outputFormat(values.output);
  const window = timeWindow(values['time-window']);
  const current = defaultNamespace(values.namespace, io.env);
  // No -n and no current namespace (no kubeconfig: a local mesh): show every namespace.
  const allNamespaces = values['all-namespaces'] === true || current === undefined;
  const namespace = allNamespaces ? '' : (current ?? 'default');
  if (values.to !== undefined && values.from !== undefined) throw new CliError('--to and --from cannot be used together', 2);
  const to = values.to === undefined ? undefined : parseResourceFlag('--to', values.to);
  const from = values.from === undefined ? undefined : parseResourceFlag('--from', values.from);
  const client = new ApiClient(apiBaseUrl(values.api, io.env));

  const tables: StatTableView[] = [];
  for (const target of targets) {
    const request: StatSummaryRequest = {
      selector: { resource: { namespace, type: target.type, name: target.name } },
      time_window: window,
      tcp_stats: target.type !== 'authority',
    };
    if (to !== undefined) request.to_resource = { namespace: values['to-namespace'] ?? namespace, type: to.type, name: to.name };
    else if (from !== undefined) request.from_resource = { namespace: values['from-namespace'] ?? namespace, type: from.type, name: from.name };
    else request.none = {};
    const response = await client.call<StatSummaryResponse>('StatSummary', request);
    if (response.error !== undefined && response.error !== null) throw new CliError(response.error.error ?? 'StatSummary failed');
    for (const table of response.ok?.stat_tables ?? []) {
      const rows = table.pod_group?.rows ?? [];
      const type = (rows[0]?.resource?.type ?? (target.type === 'all' ? '' : target.type)) as ResourceType | '';
      if (type === '' || (target.type === 'all' && rows.length === 0)) continue;
      tables.push({ type, rows });
    }
  }
  const text = renderStat(tables, { output, allNamespaces, window });
  if (text === '') io.stderr('No resources found.\n');
  else io.stdout(text);
  return 0;
}

export interface StatTableView {
  readonly type: ResourceType;
  readonly rows: readonly StatRow[];
}

export interface RenderOptions {
  readonly output: OutputFormat;
  readonly allNamespaces: boolean;
  readonly window: string;
}

/** The rows' stats as text: Linkerd's table (one per resource type, blank line between), or JSON. */
export function renderStat(tables: readonly StatTableView[], options: RenderOptions): string {
  const nonEmpty = tables.filter((t) => t.rows.length > 0);
  if (options.output === 'json') {
    return nonEmpty.length === 0 ? '' : `${JSON.stringify(nonEmpty.flatMap((t) => t.rows.map((row) => jsonRow(t.type, row, options.window))), null, 2)}\n`;
  }
  // Several types (e.g. `all`) are told apart by prefixing names with the short type: `deploy/web`.
  const prefixed = new Set(nonEmpty.map((t) => t.type)).size > 1;
  return nonEmpty.map((t) => tableText(t, options, prefixed)).join('\n');
}

function rowSeconds(row: StatRow, window: string): number {
  return row.window_seconds !== undefined && row.window_seconds > 0 ? row.window_seconds : (windowSeconds(row.time_window || window) ?? 60);
}

function tableText(table: StatTableView, options: RenderOptions, prefixed: boolean): string {
  const wide = options.output === 'wide';
  const pods = table.type === 'pod';
  const podless = table.type === 'authority' || table.type === 'service';
  const columns: Column[] = [
    ...(options.allNamespaces ? [{ header: 'NAMESPACE', align: 'left' as const }] : []),
    { header: 'NAME', align: 'left' },
    ...(pods ? [{ header: 'STATUS', align: 'left' as const }] : []),
    { header: 'MESHED', align: 'right' },
    { header: 'SUCCESS', align: 'right' },
    { header: 'RPS', align: 'right' },
    { header: 'LATENCY_P50', align: 'right' },
    { header: 'LATENCY_P95', align: 'right' },
    { header: 'LATENCY_P99', align: 'right' },
    { header: 'TCP_CONN', align: 'right' },
    ...(wide
      ? [{ header: 'READ_BYTES/SEC', align: 'right' as const }, { header: 'WRITE_BYTES/SEC', align: 'right' as const }, { header: 'SECURED', align: 'right' as const }]
      : []),
  ];
  const cells = table.rows.map((row) => {
    const seconds = rowSeconds(row, options.window);
    const stats = row.stats ?? undefined;
    const tcp = row.tcp_stats ?? undefined;
    const name = `${prefixed ? `${SHORT_NAMES[table.type]}/` : ''}${row.resource?.name ?? ''}`;
    const success = stats?.success_count ?? 0;
    const failure = stats?.failure_count ?? 0;
    return [
      ...(options.allNamespaces ? [row.resource?.namespace ?? ''] : []),
      name,
      ...(pods ? [row.status || NO_VALUE] : []),
      podless ? NO_VALUE : formatMeshed(row.meshed_pod_count ?? 0, row.running_pod_count ?? 0),
      stats === undefined ? NO_VALUE : formatSuccess(success, failure),
      stats === undefined ? NO_VALUE : formatRps(success + failure, seconds),
      stats === undefined ? NO_VALUE : formatLatency(stats.latency_ms_p50 ?? 0),
      stats === undefined ? NO_VALUE : formatLatency(stats.latency_ms_p95 ?? 0),
      stats === undefined ? NO_VALUE : formatLatency(stats.latency_ms_p99 ?? 0),
      tcp === undefined ? NO_VALUE : String(Math.trunc(tcp.open_connections ?? 0)),
      ...(wide
        ? [
            tcp === undefined ? NO_VALUE : formatByteRate(tcp.read_bytes_total ?? 0, seconds),
            tcp === undefined ? NO_VALUE : formatByteRate(tcp.write_bytes_total ?? 0, seconds),
            stats === undefined ? NO_VALUE : formatSecured(stats.tls_request_count ?? 0, success + failure),
          ]
        : []),
    ];
  });
  return renderTable(columns, cells);
}

/** One row in `-o json`, with Linkerd's keys; null where there was no traffic. */
function jsonRow(type: ResourceType, row: StatRow, window: string): Record<string, unknown> {
  const seconds = rowSeconds(row, window);
  const stats = row.stats ?? undefined;
  const tcp = row.tcp_stats ?? undefined;
  const total = (stats?.success_count ?? 0) + (stats?.failure_count ?? 0);
  return {
    namespace: row.resource?.namespace ?? '',
    kind: type,
    name: row.resource?.name ?? '',
    ...(type === 'pod' ? { status: row.status ?? '' } : {}),
    meshed: type === 'authority' || type === 'service' ? null : formatMeshed(row.meshed_pod_count ?? 0, row.running_pod_count ?? 0),
    success: stats === undefined || total === 0 ? null : (stats.success_count ?? 0) / total,
    rps: stats === undefined ? null : total / seconds,
    latency_ms_p50: stats?.latency_ms_p50 ?? null,
    latency_ms_p95: stats?.latency_ms_p95 ?? null,
    latency_ms_p99: stats?.latency_ms_p99 ?? null,
    latency_us_p50: stats?.latency_us_p50 ?? null,
    latency_us_p95: stats?.latency_us_p95 ?? null,
    latency_us_p99: stats?.latency_us_p99 ?? null,
    secured: stats === undefined || total === 0 ? null : Math.min(1, (stats.tls_request_count ?? 0) / total),
    tcp_open_connections: tcp?.open_connections ?? null,
    tcp_read_bytes_rate: tcp === undefined ? null : (tcp.read_bytes_total ?? 0) / seconds,
    tcp_write_bytes_rate: tcp === undefined ? null : (tcp.write_bytes_total ?? 0) / seconds,
    time_window: row.time_window || window,
  };
}

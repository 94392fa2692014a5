// `sluice routes`: golden metrics per ServiceProfile route of a resource (Linkerd's `routes`).
import { defaultNamespace } from './namespace.ts';
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { RouteTable, TopRoutesRequest, TopRoutesResponse } from '../api/public-messages.ts';
import { ApiClient, apiBaseUrl, CliError } from './api-client.ts';
import { formatLatency, formatRps, formatSuccess, NO_VALUE, renderTable, windowSeconds, type Column } from './format.ts';
import type { CliIo } from './io.ts';
import { outputFormat, timeWindow, type OutputFormat } from './stat.ts';
import { parseResourceFlag, parseTargets } from './targets.ts';

export const ROUTES_USAGE = `Display per-route stats of a resource.

Usage:
  sluice routes [flags] (TYPE [NAME] | TYPE/NAME)

Without --to: the routes of the requests the resource received. With --to svc/NAME: the routes of the
requests it sent to that service. Requests that matched no route are counted in [DEFAULT].

Examples:
  sluice routes deploy/web -n emojivoto
  sluice routes deploy/web --to svc/books -o wide

Flags:
  -n, --namespace NS        namespace of the resource (default "default")
  -t, --time-window WINDOW  10s, 1m, 10m or 1h (default 1m)
      --to RESOURCE         only requests sent to this service (svc/NAME) or authority (au/HOST:PORT)
      --to-namespace NS     namespace of --to (default: --namespace)
  -o, --output FORMAT       table (default), wide (effective and actual success and rate) or json
      --api HOST:PORT       the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
  -h, --help
`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'time-window': { type: 'string', short: 't' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  output: { type: 'string', short: 'o' },
  api: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(ROUTES_USAGE);
    return 0;
  }
  const targets = parseTargets(positionals);
  if (targets.length !== 1 || targets[0]?.type === 'all') throw new CliError('routes takes one resource, e.g. deploy/web', 2);
  const target = targets[0] as NonNullable<(typeof targets)[0]>;
  const output = outputFormat(values.output);
  const window = timeWindow(values['time-window']);
  const namespace = defaultNamespace(values.namespace, io.env) ?? 'default';
  const request: TopRoutesRequest = { selector: { resource: { namespace, type: target.type, name: target.name } }, time_window: window };
  if (values.to !== undefined) {
    const to = parseResourceFlag('--to', values.to);
    request.to_resource = { namespace: values['to-namespace'] ?? namespace, type: to.type, name: to.name };
  } else {
    request.none = {};
  }
  const client = new ApiClient(apiBaseUrl(values.api, io.env));
  const response = await client.call<TopRoutesResponse>('TopRoutes', request);
  if (response.error !== undefined && response.error !== null) throw new CliError(response.error.error ?? 'TopRoutes failed');
  const text = renderRoutes(response.ok?.routes ?? [], output, window);
  if (text === '') io.stderr('No traffic found.\n');
  else io.stdout(text);
  return 0;
}

/** The service an authority names: `books` for `books.default.svc.cluster.local:7002`; IPs stay whole. */
export function serviceOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  const host = colon > 0 && !authority.endsWith(']') ? authority.slice(0, colon) : authority;
  if (net.isIP(host.replace(/^\[|\]$/g, '')) !== 0) return authority;
  return host.split('.')[0] ?? host;
}

export function renderRoutes(tables: readonly RouteTable[], output: OutputFormat, window: string): string {
  const nonEmpty = tables.filter((t) => (t.rows ?? []).length > 0);
  if (output === 'json') {
    if (nonEmpty.length === 0) return '';
    const rows = nonEmpty.flatMap((t) =>
      (t.rows ?? []).map((row) => {
        const seconds = row.window_seconds || windowSeconds(row.time_window || window) || 60;
        const stats = row.stats ?? undefined;
        const total = (stats?.success_count ?? 0) + (stats?.failure_count ?? 0);
        const actual = (stats?.actual_success_count ?? 0) + (stats?.actual_failure_count ?? 0);
        return {
          resource: t.resource ?? '',
          route: row.route ?? '',
          authority: row.authority ?? '',
          effective_success: stats === undefined || total === 0 ? null : (stats.success_count ?? 0) / total,
          effective_rps: stats === undefined ? null : total / seconds,
          actual_success: stats === undefined || actual === 0 ? null : (stats.actual_success_count ?? 0) / actual,
          actual_rps: stats === undefined ? null : actual / seconds,
          latency_ms_p50: stats?.latency_ms_p50 ?? null,
          latency_ms_p95: stats?.latency_ms_p95 ?? null,
          latency_ms_p99: stats?.latency_ms_p99 ?? null,
        };
      }),
    );
    return `${JSON.stringify(rows, null, 2)}\n`;
  }
  const wide = output === 'wide';
  const columns: Column[] = [
    { header: 'ROUTE', align: 'left' },
    { header: 'SERVICE', align: 'left' },
    ...(wide
      ? [
          { header: 'EFFECTIVE_SUCCESS', align: 'right' as const },
          { header: 'EFFECTIVE_RPS', align: 'right' as const },
          { header: 'ACTUAL_SUCCESS', align: 'right' as const },
          { header: 'ACTUAL_RPS', align: 'right' as const },
        ]
      : [
          { header: 'SUCCESS', align: 'right' as const },
          { header: 'RPS', align: 'right' as const },
        ]),
    { header: 'LATENCY_P50', align: 'right' },
    { header: 'LATENCY_P95', align: 'right' },
    { header: 'LATENCY_P99', align: 'right' },
  ];
  const blocks = nonEmpty.map((table) => {
    const cells = (table.rows ?? []).map((row) => {
      const seconds = row.window_seconds || windowSeconds(row.time_window || window) || 60;
      const stats = row.stats ?? undefined;
      const success = stats?.success_count ?? 0;
      const failure = stats?.failure_count ?? 0;
      const actualSuccess = stats?.actual_success_count ?? 0;
      const actualFailure = stats?.actual_failure_count ?? 0;
      const dash = stats === undefined;
      return [
        row.route ?? '',
        serviceOf(row.authority ?? ''),
        ...(wide
          ? [
              dash ? NO_VALUE : formatSuccess(success, failure),
              dash ? NO_VALUE : formatRps(success + failure, seconds),
              dash ? NO_VALUE : formatSuccess(actualSuccess, actualFailure),
              dash ? NO_VALUE : formatRps(actualSuccess + actualFailure, seconds),
            ]
          : [dash ? NO_VALUE : formatSuccess(success, failure), dash ? NO_VALUE : formatRps(success + failure, seconds)]),
        dash ? NO_VALUE : formatLatency(stats.latency_ms_p50 ?? 0),
        dash ? NO_VALUE : formatLatency(stats.latency_ms_p95 ?? 0),
        dash ? NO_VALUE : formatLatency(stats.latency_ms_p99 ?? 0),
      ];
    });
    const heading = nonEmpty.length > 1 ? `==> ${table.resource ?? ''} <==\n` : '';
    return heading + renderTable(columns, cells);
  });
  return blocks.join('\n');
}

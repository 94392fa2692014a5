// A workload's routes (ServiceProfile routes, `sluice routes`): those of the requests it received, and
// those of what it sent to each service it calls. Requests that matched no route are [DEFAULT].
import { h, type ComponentChild } from 'preact';
import type { Resource, RouteTable, StatSummaryResponse, TopRoutesResponse } from '../../api/public-messages.ts';
import { callApi, usePolled } from '../api.ts';
import { formatLatency, formatRps, rowsByType } from '../format.ts';
import { successCell } from '../stat-table.ts';
import { Status } from './status.ts';

interface RouteGroup {
  readonly title: string;
  readonly tables: readonly RouteTable[];
}

function RouteRows(props: { group: RouteGroup }): ComponentChild {
  const rows = props.group.tables.flatMap((t) => t.rows ?? []);
  return h(
    'table',
    { class: 'stats routes', 'data-routes': props.group.title },
    h('caption', null, props.group.title),
    h('thead', null, h('tr', null, ['Route', 'Service', 'Success', 'RPS', 'P50', 'P95', 'P99'].map((c) => h('th', { scope: 'col', key: c }, c)))),
    h(
      'tbody',
      null,
      rows.length === 0
        ? h('tr', null, h('td', { colSpan: 7, class: 'empty' }, 'No requests in the last minute.'))
        : rows.map((row) => {
            const stats = row.stats ?? undefined;
            const ok = Number(stats?.success_count ?? 0);
            const total = ok + Number(stats?.failure_count ?? 0);
            const seconds = row.window_seconds !== undefined && row.window_seconds > 0 ? row.window_seconds : 60;
            return h(
              'tr',
              { key: `${row.authority}|${row.route}`, 'data-route': row.route },
              h('th', { scope: 'row', class: 'name' }, row.route ?? ''),
              h('td', { class: 'authority' }, (row.authority ?? '').split('.')[0] ?? ''),
              h('td', { class: 'num' }, successCell(stats === undefined || total === 0 ? null : ok / total)),
              h('td', { class: 'num' }, formatRps(stats === undefined ? null : total / seconds)),
              h('td', { class: 'num' }, formatLatency(stats === undefined ? null : Number(stats.latency_ms_p50 ?? 0))),
              h('td', { class: 'num' }, formatLatency(stats === undefined ? null : Number(stats.latency_ms_p95 ?? 0))),
              h('td', { class: 'num' }, formatLatency(stats === undefined ? null : Number(stats.latency_ms_p99 ?? 0))),
            );
          }),
    ),
  );
}

export function RoutesSection(props: { resource: Resource; generation: number }): ComponentChild {
  const { resource } = props;
  const key = `${resource.type}/${resource.namespace}/${resource.name}`;
  const groups = usePolled<RouteGroup[]>(
    async () => {
      const [inbound, services] = await Promise.all([
        callApi<TopRoutesResponse>('TopRoutes', { selector: { resource }, time_window: '1m', none: {} }),
        callApi<StatSummaryResponse>('StatSummary', { selector: { resource: { namespace: '', type: 'service', name: '' } }, time_window: '1m', from_resource: resource }),
      ]);
      const called = (rowsByType(services).get('service') ?? []).filter((r) => r.rps !== null && r.rps > 0);
      const outbound = await Promise.all(
        called.map(async (svc) => ({
          title: `Outbound to ${svc.name}`,
          tables: (
            await callApi<TopRoutesResponse>('TopRoutes', {
              selector: { resource },
              time_window: '1m',
              to_resource: { namespace: svc.namespace, type: 'service', name: svc.name },
            })
          ).ok?.routes ?? [],
        })),
      );
      return [{ title: 'Inbound routes', tables: inbound.ok?.routes ?? [] }, ...outbound];
    },
    key,
    props.generation,
  );
  return h(
    'section',
    { class: 'routes-section', 'aria-labelledby': 'routes-title' },
    h('h2', { id: 'routes-title' }, 'Routes'),
    groups.error === undefined ? null : h(Status, { error: groups.error, at: groups.at }),
    (groups.data ?? []).map((group) => h(RouteRows, { key: group.title, group })),
  );
}

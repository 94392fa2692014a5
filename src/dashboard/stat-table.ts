// The golden-metrics table: one row per resource (MESHED, SUCCESS, RPS, P50/P95/P99, TCP connections)
// with sparklines of the last ten minutes beside SUCCESS and RPS. Names link to the workload page.
import { h, type ComponentChild } from 'preact';
import type { HistoryResponse } from '../api/dashboard-messages.ts';
import { formatLatency, formatMeshed, formatRps, formatSuccess, NO_VALUE, successLevel, type RowNumbers } from './format.ts';
import { Sparkline } from './sparkline.ts';

export interface StatTableProps {
  readonly type: string;
  readonly rows: readonly RowNumbers[];
  readonly history: HistoryResponse | undefined;
  readonly caption: string;
  /** Show the NAMESPACE column (several namespaces in one table). */
  readonly showNamespace?: boolean;
  /** A link for a row's name, or undefined for none. */
  readonly linkOf?: (row: RowNumbers) => string | undefined;
}

export function successCell(success: number | null): ComponentChild {
  return h('span', { class: `sr sr-${successLevel(success)}` }, formatSuccess(success));
}

export function StatTable(props: StatTableProps): ComponentChild {
  const podless = props.type === 'service' || props.type === 'authority';
  const headers = [
    ...(props.showNamespace === true ? ['Namespace'] : []),
    'Name',
    ...(props.type === 'pod' ? ['Status'] : []),
    'Meshed',
    'Success',
    'RPS',
    'P50',
    'P95',
    'P99',
    'TCP',
  ];
  return h(
    'table',
    { class: 'stats', 'data-type': props.type },
    h('caption', null, props.caption),
    h('thead', null, h('tr', null, headers.map((label) => h('th', { scope: 'col', key: label }, label)))),
    h(
      'tbody',
      null,
      props.rows.length === 0
        ? h('tr', null, h('td', { colSpan: headers.length, class: 'empty' }, 'No resources.'))
        : props.rows.map((row) => {
            const key = `${row.type}/${row.namespace}/${row.name}`;
            const series = props.history?.series[key];
            const link = props.linkOf?.(row);
            return h(
              'tr',
              { key, 'data-name': row.name },
              props.showNamespace === true ? h('td', null, row.namespace) : null,
              h('th', { scope: 'row', class: 'name' }, link === undefined ? row.name : h('a', { href: link }, row.name)),
              props.type === 'pod' ? h('td', null, row.status || NO_VALUE) : null,
              h('td', { class: 'num', 'data-col': 'meshed' }, podless ? NO_VALUE : formatMeshed(row.meshed, row.running)),
              h(
                'td',
                { class: 'num', 'data-col': 'success' },
                successCell(row.success),
                series === undefined ? null : h(Sparkline, { t: series.t, values: series.success, label: `success rate of ${row.name}` }),
              ),
              h(
                'td',
                { class: 'num', 'data-col': 'rps' },
                h('span', null, formatRps(row.rps)),
                series === undefined ? null : h(Sparkline, { t: series.t, values: series.rps, label: `requests per second of ${row.name}` }),
              ),
              h('td', { class: 'num', 'data-col': 'p50' }, formatLatency(row.p50Ms)),
              h('td', { class: 'num', 'data-col': 'p95' }, formatLatency(row.p95Ms)),
              h('td', { class: 'num', 'data-col': 'p99' }, formatLatency(row.p99Ms)),
              h('td', { class: 'num', 'data-col': 'tcp' }, row.tcpConnections === null ? NO_VALUE : String(row.tcpConnections)),
            );
          }),
    ),
  );
}

// One workload (or pod): its own numbers, who calls it (inbound edges) and whom it calls (outbound
// edges), its routes, and live tap with top. Inbound edges come from the callers' proxies (`--to`), so
// only meshed callers appear; outbound edges from this workload's own proxies (`--from`).
import { h, type ComponentChild } from 'preact';
import type { HistoryResponse } from '../../api/dashboard-messages.ts';
import type { Resource, StatSummaryResponse } from '../../api/public-messages.ts';
import { callApi, getJson, usePolled } from '../api.ts';
import { formatLatency, formatRps, rowsByType, SHORT_TYPES, type RowNumbers } from '../format.ts';
import { hrefOf, workloadHref } from '../router.ts';
import { StatTable, successCell } from '../stat-table.ts';
import { RoutesSection } from './routes.ts';
import { Status } from './status.ts';
import { TapSection } from './tap.ts';

const WORKLOAD_TYPES = new Set(['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller']);

interface Edges {
  readonly self: RowNumbers[];
  readonly inbound: RowNumbers[];
  readonly outbound: RowNumbers[];
}

/** Workload rows with traffic, from an `all` answer. */
function edgeRows(response: StatSummaryResponse): RowNumbers[] {
  return [...rowsByType(response)].filter(([type]) => WORKLOAD_TYPES.has(type)).flatMap(([, rows]) => rows.filter((r) => r.rps !== null && r.rps > 0));
}

function EdgeTable(props: { rows: readonly RowNumbers[]; peer: string; caption: string }): ComponentChild {
  return h(
    'table',
    { class: 'stats edges', 'data-edges': props.peer === 'Source' ? 'inbound' : 'outbound' },
    h('caption', null, props.caption),
    h('thead', null, h('tr', null, [props.peer, 'Success', 'RPS', 'P50', 'P95', 'P99'].map((c) => h('th', { scope: 'col', key: c }, c)))),
    h(
      'tbody',
      null,
      props.rows.length === 0
        ? h('tr', null, h('td', { colSpan: 6, class: 'empty' }, props.peer === 'Source' ? 'No meshed callers in the last minute (unmeshed clients are not measured here).' : 'No meshed traffic in the last minute.'))
        : props.rows.map((row) => {
            const link = workloadHref(row.type, row.namespace, row.name);
            const label = `${SHORT_TYPES[row.type] ?? row.type}/${row.name}${row.namespace === '' ? '' : ` (${row.namespace})`}`;
            return h(
              'tr',
              { key: `${row.type}/${row.namespace}/${row.name}`, 'data-name': row.name },
              h('th', { scope: 'row', class: 'name' }, link === undefined ? label : h('a', { href: link }, label)),
              h('td', { class: 'num' }, successCell(row.success)),
              h('td', { class: 'num' }, formatRps(row.rps)),
              h('td', { class: 'num' }, formatLatency(row.p50Ms)),
              h('td', { class: 'num' }, formatLatency(row.p95Ms)),
              h('td', { class: 'num' }, formatLatency(row.p99Ms)),
            );
          }),
    ),
  );
}

export function WorkloadPage(props: { namespace: string; type: string; name: string; generation: number }): ComponentChild {
  const { namespace, type, name } = props;
  const resource: Resource = { namespace, type, name };
  const key = `${type}/${namespace}/${name}`;
  const edges = usePolled<Edges>(
    async () => {
      const all = { namespace: '', type: 'all', name: '' };
      const [self, inbound, outbound] = await Promise.all([
        callApi<StatSummaryResponse>('StatSummary', { selector: { resource }, time_window: '1m', none: {}, tcp_stats: true }),
        callApi<StatSummaryResponse>('StatSummary', { selector: { resource: all }, time_window: '1m', to_resource: resource }),
        callApi<StatSummaryResponse>('StatSummary', { selector: { resource: all }, time_window: '1m', from_resource: resource }),
      ]);
      return { self: rowsByType(self).get(type) ?? [], inbound: edgeRows(inbound), outbound: edgeRows(outbound) };
    },
    key,
    props.generation,
  );
  const history = usePolled(() => getJson<HistoryResponse>(`api/history?namespace=${encodeURIComponent(namespace)}&type=${encodeURIComponent(type)}`), key, props.generation);
  const short = `${SHORT_TYPES[type] ?? type}/${name}`;
  return h(
    'section',
    { 'aria-labelledby': 'page-title' },
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: hrefOf({ page: 'namespaces' }) }, 'Namespaces'),
      ' / ',
      h('a', { href: hrefOf({ page: 'namespace', namespace }) }, namespace),
      ' / ',
      short,
    ),
    h('h1', { id: 'page-title' }, short),
    h(Status, { error: edges.error, at: edges.at }),
    h(StatTable, { type, rows: edges.data?.self ?? [], history: history.data, caption: `${short}: inbound requests, last minute` }),
    h(
      'div',
      { class: 'two' },
      h(EdgeTable, { rows: edges.data?.inbound ?? [], peer: 'Source', caption: `Inbound: who calls ${short}` }),
      h(EdgeTable, { rows: edges.data?.outbound ?? [], peer: 'Destination', caption: `Outbound: whom ${short} calls` }),
    ),
    h(TapSection, { resource, key }),
    h(RoutesSection, { resource, generation: props.generation }),
  );
}

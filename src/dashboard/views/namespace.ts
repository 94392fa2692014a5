// One namespace: a table per kind of workload (deployments first), its pods, and its services as their
// meshed clients measured them, each row with sparklines of the last ten minutes.
import { h, type ComponentChild } from 'preact';
import type { HistoryResponse } from '../../api/dashboard-messages.ts';
import type { StatSummaryResponse } from '../../api/public-messages.ts';
import { callApi, getJson, usePolled } from '../api.ts';
import { rowsByType, typeTitle } from '../format.ts';
import { hrefOf, workloadHref } from '../router.ts';
import { StatTable } from '../stat-table.ts';
import { Status } from './status.ts';

const ORDER = ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'pod'];

export function NamespacePage(props: { namespace: string; generation: number }): ComponentChild {
  const ns = props.namespace;
  const stats = usePolled(
    async () => {
      const [workloads, services] = await Promise.all([
        callApi<StatSummaryResponse>('StatSummary', { selector: { resource: { namespace: ns, type: 'all', name: '' } }, time_window: '1m', none: {}, tcp_stats: true }),
        // A service's numbers come from its clients' proxies: every meshed client, in any namespace.
        callApi<StatSummaryResponse>('StatSummary', {
          selector: { resource: { namespace: ns, type: 'service', name: '' } },
          time_window: '1m',
          from_resource: { namespace: '', type: 'namespace', name: '' },
          tcp_stats: true,
        }),
      ]);
      const byType = rowsByType(workloads);
      byType.set('service', rowsByType(services).get('service') ?? []);
      return byType;
    },
    `ns/${ns}`,
    props.generation,
  );
  const history = usePolled(() => getJson<HistoryResponse>(`api/history?namespace=${encodeURIComponent(ns)}`), `ns/${ns}`, props.generation);
  const byType = stats.data ?? new Map();
  const types = [...ORDER.filter((t) => byType.has(t)), 'service'];
  return h(
    'section',
    { 'aria-labelledby': 'page-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: hrefOf({ page: 'namespaces' }) }, 'Namespaces'), ' / ', ns),
    h('h1', { id: 'page-title' }, `Namespace ${ns}`),
    h('p', null, h('a', { href: hrefOf({ page: 'topology', namespace: ns }) }, `Topology of ${ns} →`)),
    h(Status, { error: stats.error, at: stats.at }),
    types.map((type) =>
      h(StatTable, {
        key: type,
        type,
        rows: byType.get(type) ?? [],
        history: history.data,
        caption:
          type === 'service'
            ? `${typeTitle(type)}: requests their meshed clients sent them, last minute`
            : `${typeTitle(type)}: inbound requests, last minute`,
        linkOf: (row) => workloadHref(row.type, row.namespace, row.name),
      }),
    ),
  );
}

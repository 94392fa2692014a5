// The first page: every namespace with its golden metrics, each linking to its workloads.
import { h, type ComponentChild } from 'preact';
import type { HistoryResponse } from '../../api/dashboard-messages.ts';
import type { StatSummaryResponse } from '../../api/public-messages.ts';
import { callApi, getJson, usePolled } from '../api.ts';
import { rowsByType } from '../format.ts';
import { hrefOf } from '../router.ts';
import { StatTable } from '../stat-table.ts';
import { Status } from './status.ts';

export function NamespacesPage(props: { generation: number }): ComponentChild {
  const stats = usePolled(
    () => callApi<StatSummaryResponse>('StatSummary', { selector: { resource: { type: 'namespace', name: '' } }, time_window: '1m', none: {}, tcp_stats: true }),
    'namespaces',
    props.generation,
  );
  const history = usePolled(() => getJson<HistoryResponse>('api/history?type=namespace'), 'namespaces', props.generation);
  const rows = rowsByType(stats.data).get('namespace') ?? [];
  return h(
    'section',
    { 'aria-labelledby': 'page-title' },
    h('h1', { id: 'page-title' }, 'Namespaces'),
    h(Status, { error: stats.error, at: stats.at }),
    h(StatTable, {
      type: 'namespace',
      rows,
      history: history.data,
      caption: 'Golden metrics per namespace over the last minute (inbound requests of its meshed pods)',
      linkOf: (row) => hrefOf({ page: 'namespace', namespace: row.name }),
    }),
  );
}

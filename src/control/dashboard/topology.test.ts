// The topology's edges from `--from` queries: one per meshed source workload, an edge per destination
// with traffic, nodes for every listed workload and every destination, and the bound on sources.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatRow, StatSummaryResponse } from '../../api/public-messages.ts';
import { topology } from './topology.ts';

function row(type: string, name: string, fields: Partial<StatRow> = {}): StatRow {
  return { resource: { namespace: 'emojivoto', type, name }, meshed_pod_count: 1, running_pod_count: 1, window_seconds: 60, ...fields } as StatRow;
}
const answer = (...rows: StatRow[]): StatSummaryResponse => ({ ok: { stat_tables: [{ pod_group: { rows } }] } });
const stats = (success: number, failure: number) => ({ success_count: success, failure_count: failure, latency_ms_p50: 1, latency_ms_p95: 5, latency_ms_p99: 12 });

describe('topology', () => {
  it('asks each meshed workload what it sent and draws an edge per destination with traffic', async () => {
    const asked: string[] = [];
    const result = await topology(async (request) => {
      const r = request as { from_resource?: { name: string } };
      asked.push(r.from_resource?.name ?? 'list');
      if (r.from_resource === undefined) return answer(row('deployment', 'web'), row('deployment', 'emoji'), row('deployment', 'unmeshed', { meshed_pod_count: 0 }), row('pod', 'web-1'));
      if (r.from_resource.name === 'web') {
        return answer(row('deployment', 'emoji', { stats: stats(57, 3) }), row('deployment', 'idle'), row('pod', 'emoji-1', { stats: stats(57, 3) }), row('statefulset', 'db', { stats: stats(6, 0) }));
      }
      return answer();
    }, 'emojivoto', '1m');
    assert.deepEqual(asked.sort(), ['emoji', 'list', 'web']);
    assert.deepEqual(result.edges, [
      { from: 'deployment/emojivoto/web', to: 'deployment/emojivoto/emoji', rps: 1, success: 0.95, p99Ms: 12 },
      { from: 'deployment/emojivoto/web', to: 'statefulset/emojivoto/db', rps: 0.1, success: 1, p99Ms: 12 },
    ]);
    assert.deepEqual(result.nodes.map((n) => n.id), ['deployment/emojivoto/emoji', 'deployment/emojivoto/unmeshed', 'deployment/emojivoto/web', 'statefulset/emojivoto/db']);
    assert.equal(result.truncated, 0);
  });

  it('asks about at most maxSources workloads and says how many it left out', async () => {
    let queries = 0;
    const result = await topology(async (request) => {
      queries++;
      if ((request as { from_resource?: unknown }).from_resource === undefined) return answer(row('deployment', 'a'), row('deployment', 'b'), row('deployment', 'c'));
      return answer();
    }, '', '1m', 2);
    assert.equal(queries, 3);
    assert.equal(result.truncated, 1);
  });

  it('fails when the public API fails', async () => {
    await assert.rejects(topology(async () => Promise.reject(new Error('down')), '', '1m'), /down/);
  });
});

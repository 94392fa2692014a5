// The page's numbers print as `sluice stat` prints them; rows without traffic show `-`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatRow } from '../api/public-messages.ts';
import { formatLatency, formatMicros, formatRps, formatSuccess, rowNumbers, rowsByType, successLevel } from './format.ts';

describe('dashboard numbers', () => {
  it('derives success, RPS over the covered seconds, latencies and TCP connections from a row', () => {
    const row = {
      resource: { namespace: 'emojivoto', type: 'deployment', name: 'voting' },
      meshed_pod_count: 1,
      running_pod_count: 2,
      window_seconds: 50,
      stats: { success_count: 470, failure_count: 30, latency_ms_p50: 5, latency_ms_p95: 15, latency_ms_p99: 31 },
      tcp_stats: { open_connections: 3 },
    } as StatRow;
    const n = rowNumbers(row);
    assert.equal(n.success, 0.94);
    assert.equal(n.rps, 10);
    assert.deepEqual([n.p50Ms, n.p95Ms, n.p99Ms, n.tcpConnections, n.meshed, n.running], [5, 15, 31, 3, 1, 2]);
    assert.equal(formatSuccess(n.success), '94.00%');
    assert.equal(formatRps(n.rps), '10.0');
    assert.equal(formatLatency(n.p99Ms), '31 ms');
  });

  it('shows a row without traffic as dashes', () => {
    const n = rowNumbers({ resource: { namespace: 'a', type: 'pod', name: 'p' } } as StatRow);
    assert.deepEqual([formatSuccess(n.success), formatRps(n.rps), formatLatency(n.p50Ms)], ['-', '-', '-']);
    assert.equal(n.tcpConnections, null);
  });

  it('groups an answer by resource type', () => {
    const byType = rowsByType({ ok: { stat_tables: [{ pod_group: { rows: [{ resource: { type: 'deployment', name: 'a' } }, { resource: { type: 'pod', name: 'b' } }] } }] } });
    assert.deepEqual([...byType.keys()], ['deployment', 'pod']);
    assert.equal(rowsByType(undefined).size, 0);
  });

  it('prints microseconds at a readable scale and grades success rates', () => {
    assert.deepEqual([formatMicros(250), formatMicros(1500), formatMicros(25_000), formatMicros(2_500_000), formatMicros(undefined)], ['250 µs', '1.50 ms', '25.0 ms', '2.50 s', '-']);
    assert.deepEqual([successLevel(1), successLevel(0.95), successLevel(0.5), successLevel(null)], ['good', 'warn', 'bad', 'none']);
  });
});

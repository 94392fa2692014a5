// The worker-side collector: deltas of counters, current gauges, per-bucket and exact latency deltas.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactLatency, indexOfMicros } from './exact-latency.ts';
import { LATENCY_BUCKETS_MS } from './metrics.ts';
import { ProxyMetrics } from './proxy-metrics.ts';
import { TelemetryCollector, type FamilyDelta, type HistogramDelta, type TelemetryDelta } from './report-delta.ts';

function family(delta: TelemetryDelta, name: string): FamilyDelta | undefined {
  return delta.find((f) => f.name === name);
}

describe('TelemetryCollector', () => {
  it('turns exact-latency recording on', () => {
    exactLatency.enabled = false;
    new TelemetryCollector(new ProxyMetrics().registry);
    assert.equal(exactLatency.enabled, true);
  });

  it('reports what changed since the previous collection, nothing twice', () => {
    const metrics = new ProxyMetrics();
    const collector = new TelemetryCollector(metrics.registry);
    const stats = metrics.http('inbound', 'web:80', { host: '10.0.0.1', port: 80 });
    stats.request();
    stats.request();
    stats.response(200, -1, 1.5);
    stats.response(503, -1, 40, 'connect_refused');

    const first = collector.collect();
    assert.deepEqual(family(first, 'request_total')?.series.map(([, v]) => v), [2]);
    const responses = family(first, 'response_total')?.series ?? [];
    assert.equal(responses.length, 2);
    assert.ok(responses.some(([labels, v]) => labels.includes('classification="failure"') && labels.includes('error="connect_refused"') && v === 1));
    const latency = family(first, 'response_latency_ms')?.series ?? [];
    const ok = latency.find(([labels]) => labels.includes('status_code="200"'))?.[1] as HistogramDelta;
    assert.equal(ok.buckets.length, LATENCY_BUCKETS_MS.length + 1);
    assert.equal(ok.buckets[1], 1); // 1.5 ms is in the le="2" bucket
    assert.deepEqual(ok.exact, [indexOfMicros(1500), 1]);

    // Nothing new: nothing reported.
    assert.deepEqual(collector.collect(), []);

    stats.request();
    stats.response(200, -1, 0.2);
    const third = collector.collect();
    assert.deepEqual(family(third, 'request_total')?.series.map(([, v]) => v), [1]);
    const again = family(third, 'response_latency_ms')?.series[0]?.[1] as HistogramDelta;
    assert.equal(again.buckets[0], 1);
    assert.deepEqual(again.exact, [200, 1]);
  });

  it('sends gauges as current values while non-zero, and once more when they drop to zero', () => {
    const metrics = new ProxyMetrics();
    let flushed = 0;
    const collector = new TelemetryCollector(metrics.registry, () => flushed++);
    const tcp = metrics.tcp('inbound', 'src', undefined);
    tcp.opened.inc();
    tcp.open.inc();
    tcp.readBytes.inc(100);
    const first = collector.collect();
    assert.equal(flushed, 1);
    assert.deepEqual(family(first, 'tcp_open_connections')?.series.map(([, v]) => v), [1]);
    assert.deepEqual(family(first, 'tcp_read_bytes_total')?.series.map(([, v]) => v), [100]);
    assert.deepEqual(family(collector.collect(), 'tcp_open_connections')?.series.map(([, v]) => v), [1]);
    tcp.open.inc(-1);
    tcp.closed('');
    const dropped = collector.collect();
    assert.deepEqual(family(dropped, 'tcp_open_connections')?.series.map(([, v]) => v), [0]);
    assert.deepEqual(family(dropped, 'tcp_close_total')?.series.map(([, v]) => v), [1]);
    assert.equal(family(collector.collect(), 'tcp_open_connections'), undefined);
  });

  it('reads the route families too, when the proxy has them', () => {
    const metrics = new ProxyMetrics();
    const requests = metrics.registry.counter('route_request_total', 'test');
    const collector = new TelemetryCollector(metrics.registry);
    requests.get('direction="outbound",dst="books:80",rt_route="GET /books"').inc(3);
    assert.deepEqual(family(collector.collect(), 'route_request_total')?.series, [['direction="outbound",dst="books:80",rt_route="GET /books"', 3]]);
  });
});

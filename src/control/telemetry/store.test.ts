// The telemetry store: windows over 10-second and minute slots, merged exact latencies, retention,
// retries recognised, and memory kept within its bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latencyPercentiles } from './keys.ts';
import { classify, TelemetryStore, type StatKey } from './store.ts';
import { ManualClock, syntheticReport } from './testkit.ts';

const byWorkload = (key: StatKey): string | undefined => (key.scope === 'svc' && key.direction === 'inbound' ? key.workload : undefined);

function setUp(options: { maxKeys?: number; maxBytes?: number } = {}) {
  const clock = new ManualClock();
  const store = new TelemetryStore({ ...options, now: clock.read });
  // Start well past the store's first minute, so windows are not cut short by its start.
  clock.advance(2 * 60 * 60_000);
  return { clock, store };
}

describe('TelemetryStore windows', () => {
  it('counts what arrived within the window, by classification', () => {
    const { clock, store } = setUp();
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 9, failed: 1 }] }));
    clock.advance(30_000);
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 5 }] }));
    const minute = store.query(60_000, byWorkload);
    assert.equal(minute.groups.get('deployment/web')?.success, 14);
    assert.equal(minute.groups.get('deployment/web')?.failure, 1);
    const tenSeconds = store.query(10_000, byWorkload);
    assert.equal(tenSeconds.groups.get('deployment/web')?.success, 5);
    assert.ok(tenSeconds.seconds >= 10 && tenSeconds.seconds <= 20, String(tenSeconds.seconds));
    // Windows start on a slot boundary: 71 s later the report's 10-second slot is out of the minute.
    clock.advance(71_000);
    assert.equal(store.query(60_000, byWorkload).groups.get('deployment/web'), undefined);
    assert.equal(store.query(10 * 60_000, byWorkload).groups.get('deployment/web')?.success, 14);
  });

  it('merges exact latencies across reports and pods into one distribution', () => {
    const { store } = setUp();
    const fast = new Array<number>(90).fill(2_000);
    const slow = [...new Array<number>(9).fill(50_000), 400_000];
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 90, latencyUs: fast }] }));
    store.ingest(syntheticReport({ pod: 'web-2', workload: 'deployment/web', requests: [{ ok: 10, latencyUs: slow }] }));
    const agg = store.query(60_000, byWorkload).groups.get('deployment/web');
    assert.ok(agg?.latency !== undefined);
    const [p50, p95, p99, max] = latencyPercentiles(agg, [0.5, 0.95, 0.99, 1]);
    assert.ok(p50 !== undefined && p50 >= 2_000 && p50 < 2_020, String(p50));
    assert.ok(p95 !== undefined && p95 >= 50_000 && p95 < 50_500, String(p95));
    assert.ok(p99 !== undefined && p99 >= 50_000 && p99 < 50_500, String(p99));
    assert.ok(max !== undefined && max >= 400_000 && max < 404_000, String(max));
  });

  it("falls back to Conduit's bucket counts when a report has no exact latencies", () => {
    const { store } = setUp();
    const report = syntheticReport({ pod: 'old-1', workload: 'deployment/old', requests: [{ ok: 4 }] });
    const response = report.requests?.[0]?.responses?.[0];
    assert.ok(response !== undefined);
    delete response.latency_hdr;
    response.response_latency_counts = [0, 0, 0, 0, 0, 4]; // all four in the le=10ms bucket
    report.histogram_bucket_bounds_tenth_ms = [10, 20, 30, 40, 50, 100, 200];
    store.ingest(report);
    const agg = store.query(60_000, byWorkload).groups.get('deployment/old');
    const [p50] = latencyPercentiles(agg, [0.5]);
    assert.ok(p50 !== undefined && p50 >= 10_000 && p50 < 10_100, String(p50));
  });

  it('keeps an hour: minute slots past ten minutes, nothing past an hour', () => {
    const { clock, store } = setUp();
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 3, latencyUs: 7_000 }] }));
    for (let i = 0; i < 30; i++) {
      clock.advance(60_000);
      store.maintain();
    }
    const hour = store.query(3_600_000, byWorkload).groups.get('deployment/web');
    assert.equal(hour?.success, 3);
    assert.equal(latencyPercentiles(hour, [0.5])[0], 7_007);
    assert.equal(store.query(10 * 60_000, byWorkload).groups.get('deployment/web'), undefined);
    clock.advance(31 * 60_000);
    store.maintain();
    assert.equal(store.query(3_600_000, byWorkload).groups.get('deployment/web'), undefined);
    assert.equal(store.keyCount, 0);
    assert.equal(store.byteSize, 0);
  });

  it('folds ten-second slots of the same minute into one minute slot without losing counts', () => {
    const { clock, store } = setUp();
    for (let i = 0; i < 6; i++) {
      store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 1, latencyUs: 1_000 * (i + 1) }] }));
      clock.advance(10_000);
    }
    const before = store.byteSize;
    clock.advance(11 * 60_000);
    store.maintain();
    assert.ok(store.byteSize < before);
    const agg = store.query(3_600_000, byWorkload).groups.get('deployment/web');
    assert.equal(agg?.success, 6);
    assert.equal(latencyPercentiles(agg, [1])[0], 6_015);
  });
});

describe('TelemetryStore reports', () => {
  it('applies a retried report (same instance, direction and sequence) once', () => {
    const { store } = setUp();
    const report = syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 4 }], instance: 'i1', sequence: 1 });
    assert.equal(store.ingest(report), true);
    assert.equal(store.ingest(report), false);
    assert.equal(store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'outbound', instance: 'i1', sequence: 1 })), true);
    assert.equal(store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 1 }], instance: 'i1', sequence: 2 })), true);
    assert.equal(store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 1 }], instance: 'i2', sequence: 1 })), true);
    assert.equal(store.query(60_000, byWorkload).groups.get('deployment/web')?.success, 6);
    assert.equal(store.counters.duplicateReports, 1);
  });

  it('applies each report of a call (the outbound one batched in the inbound one) on its own, retries once', () => {
    const { store } = setUp();
    const outboundOf = (sequence: number) => syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'outbound', requests: [{ ok: 2, dst: { namespace: 'shop', deployment: 'api' } }], instance: 'i1', sequence });
    const call = { ...syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 4 }], instance: 'i1', sequence: 1 }), batched: [outboundOf(1)] };
    const outboundToApi = (key: StatKey): string | undefined => (key.direction === 'outbound' && key.scope === 'svc' ? key.dstWorkload : undefined);
    assert.equal(store.ingestCall(call), true);
    assert.equal(store.query(60_000, byWorkload).groups.get('deployment/web')?.success, 4);
    assert.equal(store.query(60_000, outboundToApi).groups.get('deployment/api')?.success, 2);
    // The whole call again (its answer was lost): nothing counted twice.
    assert.equal(store.ingestCall(call), false);
    assert.equal(store.counters.duplicateReports, 2);
    // A retried inbound report with a new outbound one: only the new one counts.
    assert.equal(store.ingestCall({ ...call, batched: [outboundOf(2)] }), true);
    assert.equal(store.query(60_000, byWorkload).groups.get('deployment/web')?.success, 4);
    assert.equal(store.query(60_000, outboundToApi).groups.get('deployment/api')?.success, 4);
  });

  it('sums the latest open-connection gauge of each proxy, not every report of it', () => {
    const { clock, store } = setUp();
    const transports = [{ connects: 1, open_connections: 3, read_bytes: 100, write_bytes: 50 }];
    for (let i = 0; i < 4; i++) {
      store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', transports, instance: 'a', sequence: i + 1 }));
      store.ingest(syntheticReport({ pod: 'web-2', workload: 'deployment/web', transports, instance: 'b', sequence: i + 1 }));
      clock.advance(5_000);
    }
    const tcp = store.query(60_000, (key) => (key.scope === 'tcp' ? key.workload : undefined)).groups.get('deployment/web');
    assert.equal(tcp?.openConnections, 6);
    assert.equal(tcp?.opened, 8);
    assert.equal(tcp?.readBytes, 800);
  });

  it('offers a query only the gauges of the classes it asks for, with the same sums', () => {
    const { store } = setUp();
    const inbound = [{ connects: 1, open_connections: 3, read_bytes: 100, write_bytes: 50 }];
    const outbound = [{ connects: 1, open_connections: 2, read_bytes: 10, write_bytes: 5, dst_labels: { namespace: 'shop', service: 'db' } }];
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', transports: inbound, instance: 'a', sequence: 1 }));
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'outbound', transports: outbound, instance: 'a', sequence: 1 }));
    const offered: string[] = [];
    const tcpByDirection = (key: StatKey): string | undefined => {
      offered.push(`${key.direction}/${key.scope}`);
      return key.scope === 'tcp' ? key.direction : undefined;
    };
    const all = store.query(60_000, tcpByDirection);
    assert.equal(all.groups.get('inbound')?.openConnections, 3);
    assert.equal(all.groups.get('outbound')?.openConnections, 2);

    offered.length = 0;
    const onlyInbound = store.query(60_000, tcpByDirection, undefined, { directions: ['inbound'], scopes: ['svc', 'tcp'] });
    assert.deepEqual([...onlyInbound.groups.keys()], ['inbound']);
    assert.equal(onlyInbound.groups.get('inbound')?.openConnections, 3);
    assert.ok(!offered.includes('outbound/tcp'), `outbound gauges offered to an inbound query: ${offered.join(', ')}`);

    offered.length = 0;
    const noTcp = store.query(60_000, tcpByDirection, undefined, { scopes: ['svc', 'route'] });
    assert.equal(noTcp.groups.size, 0);
    assert.deepEqual(offered, []);
  });

  it('records when each pod last reported', () => {
    const { clock, store } = setUp();
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web' }));
    const first = clock.now;
    clock.advance(5_000);
    store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web' }));
    assert.deepEqual(store.podReport('shop', 'web-1'), {
      namespace: 'shop',
      pod: 'web-1',
      workload: 'deployment/web',
      firstReport: first,
      lastReport: first + 5_000,
      reportIntervalMs: 5000,
    });
  });

  it("classifies as Linkerd when the proxy did not: 5xx, gRPC status other than OK, resets and proxy errors fail", () => {
    assert.equal(classify(200, { other: true }), 'success');
    assert.equal(classify(503, { other: true }), 'failure');
    assert.equal(classify(200, { grpc_status_code: 0, end: 'grpc_status_code' }), 'success');
    assert.equal(classify(200, { grpc_status_code: 14, end: 'grpc_status_code' }), 'failure');
    assert.equal(classify(200, { reset_error_code: 8, end: 'reset_error_code' }), 'failure');
    assert.equal(classify(200, { other: true, error: 'connect_refused' }), 'failure');
    assert.equal(classify(500, { other: true, classification: 'success' }), 'success');
  });
});

describe('TelemetryStore workload rollups', () => {
  it('answers queries by workload from its rollups with exactly the sums of the pods', () => {
    const { clock, store } = setUp();
    const byNamespaceAndWorkload = (key: StatKey): string | undefined => (key.direction === 'inbound' ? `${key.namespace}/${key.workload}/${key.scope}` : undefined);
    const only = { directions: ['inbound'], scopes: ['svc', 'tcp'] } as const;
    // 20 minutes of three pods in two workloads: fine slots, folded minute slots, TLS and not, TCP.
    for (let step = 0; step < 240; step++) {
      for (const [pod, workload, namespace] of [['web-1', 'deployment/web', 'shop'], ['web-2', 'deployment/web', 'shop'], ['api-1', 'deployment/api', 'shop'], ['db-0', 'statefulset/db', 'data']] as const) {
        store.ingest(
          syntheticReport({
            pod,
            workload,
            namespace,
            requests: [{ ok: 3 + (step % 5), failed: step % 3, latencyUs: [1_000 + step * 37, 40_000 + pod.length * step], tls: step % 2 === 0 ? 'true' : 'disabled' }],
            transports: [{ connects: 1, disconnect_count: 1, read_bytes: 100 * step, write_bytes: 7, open_connections: 2 }],
          }),
        );
      }
      clock.advance(5_000);
      if (step % 12 === 0) store.maintain();
    }
    for (const window of [10_000, 60_000, 10 * 60_000, 60 * 60_000]) {
      const fromKeys = store.query(window, byNamespaceAndWorkload, undefined, only);
      const fromRollups = store.query(window, byNamespaceAndWorkload, undefined, { ...only, byWorkload: true });
      assert.deepEqual([...fromRollups.groups.keys()].sort(), [...fromKeys.groups.keys()].sort());
      assert.equal(fromKeys.groups.size, 6);
      for (const [group, agg] of fromKeys.groups) assert.deepEqual(fromRollups.groups.get(group), agg, `${group} over ${window} ms`);
      assert.equal(fromRollups.seconds, fromKeys.seconds);
    }
    // Rollups are not series: the key count and its bound are the pods' keys only.
    assert.equal(store.keyCount, 8);
  });
});

describe('TelemetryStore bounds', () => {
  it('keeps at most maxKeys keys, dropping the least recently reported', () => {
    const { clock, store } = setUp({ maxKeys: 3 });
    for (const name of ['a', 'b', 'c']) {
      store.ingest(syntheticReport({ pod: `${name}-1`, workload: `deployment/${name}`, requests: [{ ok: 1 }] }));
      clock.advance(1_000);
    }
    // a reports again, so b is now the oldest.
    store.ingest(syntheticReport({ pod: 'a-1', workload: 'deployment/a', requests: [{ ok: 1 }] }));
    store.ingest(syntheticReport({ pod: 'd-1', workload: 'deployment/d', requests: [{ ok: 1 }] }));
    const groups = store.query(60_000, byWorkload).groups;
    assert.deepEqual([...groups.keys()].sort(), ['deployment/a', 'deployment/c', 'deployment/d']);
    assert.equal(store.keyCount, 3);
    assert.equal(store.counters.evictedKeys, 1);
  });

  it('at the key bound drops the least recently reported 1 % at once, keeping every key reported since', () => {
    const { clock, store } = setUp({ maxKeys: 300 });
    for (let i = 0; i < 300; i++) {
      store.ingest(syntheticReport({ pod: `p-${i}`, workload: `deployment/w${i}`, requests: [{ ok: 1 }] }));
      clock.advance(100);
    }
    // The first ten report again: p-10 … p-12 are now the least recently reported.
    for (let i = 0; i < 10; i++) store.ingest(syntheticReport({ pod: `p-${i}`, workload: `deployment/w${i}`, requests: [{ ok: 1 }] }));
    clock.advance(100);
    store.ingest(syntheticReport({ pod: 'new-1', workload: 'deployment/new', requests: [{ ok: 1 }] }));
    assert.equal(store.counters.evictedKeys, 3);
    assert.equal(store.keyCount, 298);
    const groups = store.query(60_000, byWorkload).groups;
    for (const gone of ['deployment/w10', 'deployment/w11', 'deployment/w12']) assert.equal(groups.get(gone), undefined, gone);
    for (const kept of ['deployment/w0', 'deployment/w9', 'deployment/w13', 'deployment/w299', 'deployment/new']) assert.equal(groups.get(kept)?.success, kept === 'deployment/w0' || kept === 'deployment/w9' ? 2 : 1, kept);
  });

  it('keeps its slot data under maxBytes however many distinct keys arrive', () => {
    const maxBytes = 200_000;
    const { clock, store } = setUp({ maxBytes });
    const latencies = Array.from({ length: 200 }, (_, i) => 100 + i * 997);
    for (let i = 0; i < 2_000; i++) {
      store.ingest(syntheticReport({ pod: `p-${i}`, workload: `deployment/w${i}`, requests: [{ ok: 200, latencyUs: latencies }] }));
      if (i % 100 === 0) clock.advance(10_000);
      assert.ok(store.byteSize <= maxBytes, `${store.byteSize} bytes after ${i} reports`);
    }
    assert.ok(store.keyCount > 10 && store.keyCount < 2_000, String(store.keyCount));
    // The most recent keys are the ones kept.
    assert.equal(store.query(600_000, byWorkload).groups.get('deployment/w1999')?.success, 200);
    assert.equal(store.query(600_000, byWorkload).groups.get('deployment/w0'), undefined);
  });

  it('accounts bytes exactly: dropping everything returns to zero', () => {
    const { clock, store } = setUp();
    for (let i = 0; i < 50; i++) {
      store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 3, latencyUs: [i * 100 + 1, i * 1000 + 5, 77_000] }] }));
      clock.advance(7_000);
      store.maintain();
    }
    assert.ok(store.byteSize > 0);
    clock.advance(2 * 3_600_000);
    store.maintain();
    assert.equal(store.byteSize, 0);
  });
});

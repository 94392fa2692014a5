// The PromQL of the Prometheus backend: Linkerd's golden-metric queries per key class, grouped by
// every label a telemetry key is made of, over the request's window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyQueries, rangeOf } from './queries.ts';

describe('keyQueries', () => {
  it('asks for inbound responses and latency buckets over the window, grouped by the key labels', () => {
    const queries = keyQueries(60_000, { directions: ['inbound'], scopes: ['svc'] });
    assert.deepEqual(
      queries.map((q) => [q.scope, q.part]),
      [
        ['svc', 'responses'],
        ['svc', 'latency'],
      ],
    );
    const [responses, latency] = queries.map((q) => q.promql);
    assert.match(responses ?? '', /^sum by \(namespace, pod, deployment, statefulset, daemonset, cronjob, k8s_job, replicationcontroller, replicaset, direction, authority, dst_namespace, /);
    assert.match(responses ?? '', /, tls, classification\) \(increase\(response_total\{direction="inbound"\}\[60s\]\)\)$/);
    assert.match(latency ?? '', /, le\) \(increase\(response_latency_ms_bucket\{direction="inbound"\}\[60s\]\)\)$/);
  });

  it('joins both directions with `or`, and reads TCP from the side each direction reports', () => {
    const tcp = keyQueries(10_000, { scopes: ['tcp'] });
    assert.deepEqual(
      tcp.map((q) => q.part),
      ['opened', 'closed', 'readBytes', 'writeBytes', 'openConnections'],
    );
    assert.match(tcp[0]?.promql ?? '', /increase\(tcp_open_total\{direction="inbound",peer="src"\}\[10s\]\) or increase\(tcp_open_total\{direction="outbound",peer="dst"\}\[10s\]\)/);
    // Open connections are a gauge: its current value, no increase().
    assert.match(tcp[4]?.promql ?? '', /\(tcp_open_connections\{direction="inbound",peer="src"\} or tcp_open_connections\{direction="outbound",peer="dst"\}\)$/);
  });

  it('route scopes group by the destination and the rt_route label', () => {
    const routes = keyQueries(600_000, { directions: ['outbound'], scopes: ['route', 'actual'] });
    assert.deepEqual(
      routes.map((q) => [q.scope, q.part]),
      [
        ['route', 'responses'],
        ['route', 'latency'],
        ['actual', 'responses'],
      ],
    );
    for (const q of routes) assert.match(q.promql, /direction, dst, rt_route/);
    assert.match(routes[2]?.promql ?? '', /route_actual_response_total\{direction="outbound"\}\[600s\]/);
  });

  it('every class when none is named', () => {
    assert.equal(keyQueries(60_000).length, 2 + 2 + 1 + 5);
  });

  it('writes windows as whole seconds and refuses ones below a second', () => {
    assert.equal(rangeOf(3_600_000), '3600s');
    assert.throws(() => rangeOf(10), /too short/);
  });
});

// Linkerd's route_* families: one series per status, gRPC status, classification and error, kept apart
// for the client's responses (route_response_*) and every attempt's (route_actual_*).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, renderPrometheus } from '../../telemetry/metrics.ts';
import { RouteMetrics } from './route-metrics.ts';

const ROUTE = 'direction="outbound",dst="web.ns.svc.cluster.local:8080",rt_route="GET /books"';

/** name{labels after the route's} value, for the sample lines of one metric name. */
function samples(registry: Registry, name: string): string[] {
  return renderPrometheus(registry.snapshot())
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => l.slice(name.length + 1 + ROUTE.length).replace(/^,/, ''));
}

function route(): { registry: Registry; stats: ReturnType<RouteMetrics['route']> } {
  const registry = new Registry();
  const stats = new RouteMetrics(registry).route('outbound', 'web.ns.svc.cluster.local:8080', 'rt_route="GET /books"');
  return { registry, stats };
}

describe('RouteStats', () => {
  it('counts each response under its status, classification, gRPC status and error', () => {
    const { registry, stats } = route();
    stats.response(200, -1, false, 1);
    stats.response(200, -1, false, 2);
    stats.response(200, -1, true, 3); // a response class of the route calls this one a failure
    stats.response(200, 0, false, 4);
    stats.response(200, 14, true, 5);
    stats.response(200, 99, true, 6); // beyond the codes gRPC defines: still its own series
    stats.response(504, -1, true, 7, 'response_timeout');
    assert.deepEqual(samples(registry, 'route_response_total'), [
      'status_code="200",classification="success",grpc_status="",error=""} 2',
      'status_code="200",classification="failure",grpc_status="",error=""} 1',
      'status_code="200",classification="success",grpc_status="0",error=""} 1',
      'status_code="200",classification="failure",grpc_status="14",error=""} 1',
      'status_code="200",classification="failure",grpc_status="99",error=""} 1',
      'status_code="504",classification="failure",grpc_status="",error="response_timeout"} 1',
    ]);
    assert.deepEqual(samples(registry, 'route_response_latency_ms_count'), ['status_code="200"} 6', 'status_code="504"} 1']);
  });

  it("keeps the client's responses and every attempt's apart", () => {
    const { registry, stats } = route();
    stats.actualResponse(503, -1, true, 1); // the first attempt failed…
    stats.actualResponse(200, -1, false, 2); // …the retry did not
    stats.response(200, -1, false, 3);
    assert.deepEqual(samples(registry, 'route_response_total'), ['status_code="200",classification="success",grpc_status="",error=""} 1']);
    assert.deepEqual(samples(registry, 'route_actual_response_total'), [
      'status_code="503",classification="failure",grpc_status="",error=""} 1',
      'status_code="200",classification="success",grpc_status="",error=""} 1',
    ]);
    assert.deepEqual(samples(registry, 'route_response_latency_ms_count'), ['status_code="200"} 1']);
    assert.deepEqual(samples(registry, 'route_actual_response_latency_ms_count'), ['status_code="503"} 1', 'status_code="200"} 1']);
  });

  it('counts retry outcomes by name', () => {
    const { registry, stats } = route();
    stats.retryable('retried');
    stats.retryable('retried');
    stats.retryable('no_budget');
    assert.deepEqual(samples(registry, 'route_retryable_total'), ['retry="retried"} 2', 'retry="no_budget"} 1']);
  });
});

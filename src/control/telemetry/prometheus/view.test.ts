// Prometheus answers as the store's keys and aggregates: labels to keys, classifications to success
// and failure, latency buckets to percentiles as histogram_quantile computes them, and grouping with
// the same `query` the public API calls on the store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentilesOfDense } from '../../../telemetry/exact-latency.ts';
import { denseFromBuckets, keyOfSeries, PrometheusView } from './view.ts';

const web = { namespace: 'shop', pod: 'web-1', deployment: 'web', direction: 'inbound' };

describe('keyOfSeries', () => {
  it('takes the source from the scrape labels and the destination from dst_*', () => {
    assert.deepEqual(keyOfSeries('svc', { ...web, direction: 'outbound', authority: 'books.shop.svc.cluster.local:80', dst_namespace: 'shop', dst_deployment: 'books', dst_pod: 'books-2', dst_service: 'books' }), {
      namespace: 'shop',
      pod: 'web-1',
      workload: 'deployment/web',
      direction: 'outbound',
      scope: 'svc',
      authority: 'books.shop.svc.cluster.local:80',
      route: '',
      dstNamespace: 'shop',
      dstWorkload: 'deployment/books',
      dstPod: 'books-2',
      dstService: 'books',
    });
  });

  it('names a Job by k8s_job (job is the scrape job), routes by dst and rt_route, and needs a direction', () => {
    const key = keyOfSeries('route', { namespace: 'batch', pod: 'etl-x', k8s_job: 'etl', job: 'sluice-proxy', direction: 'outbound', dst: 'api:80', rt_route: 'GET /' });
    assert.equal(key?.workload, 'job/etl');
    assert.equal(key?.authority, 'api:80');
    assert.equal(key?.route, 'GET /');
    assert.equal(keyOfSeries('svc', { namespace: 'shop', pod: 'web-1' }), undefined);
  });
});

describe('denseFromBuckets', () => {
  it("gives histogram_quantile's percentiles: linear within a bucket", () => {
    // 100 responses: 50 in (0, 10 ms], 50 in (10, 20 ms]; the median is 10 ms, p75 15 ms, p95 19 ms.
    const dense = denseFromBuckets(new Map([[5, 25], [10, 50], [20, 100], [Infinity, 100]]));
    assert.ok(dense !== undefined);
    const [p50 = 0, p75 = 0, p95 = 0] = percentilesOfDense(dense, [0.5, 0.75, 0.95]);
    for (const [got, want] of [[p50, 10_000], [p75, 15_000], [p95, 19_000]] as const) assert.ok(Math.abs(got - want) / want < 0.015, `${got} vs ${want}`);
  });

  it('counts +Inf at the highest finite bound, and nothing as undefined', () => {
    const dense = denseFromBuckets(new Map([[50_000, 0], [Infinity, 4]]));
    const [p50 = 0] = percentilesOfDense(dense ?? new Float64Array(0), [0.5]);
    assert.ok(p50 >= 50_000_000 && p50 < 50_500_000, String(p50));
    assert.equal(denseFromBuckets(new Map([[1, 0], [Infinity, 0]])), undefined);
  });
});

describe('PrometheusView', () => {
  it('answers query() as the store does: success, failure, TLS, latency and TCP per group', () => {
    const view = new PrometheusView(60_000, 1_000, 'http://prom:9090/');
    view.add('svc', 'responses', [
      { metric: { ...web, authority: 'web:80', tls: 'true', classification: 'success' }, value: 57 },
      { metric: { ...web, authority: 'web:80', tls: 'true', classification: 'failure' }, value: 3 },
      { metric: { ...web, pod: 'web-2', authority: 'web:80', tls: 'disabled', classification: 'success' }, value: 60 },
      { metric: { ...web, authority: 'web:80', classification: 'success' }, value: Number.NaN },
    ]);
    view.add('svc', 'latency', [
      { metric: { ...web, authority: 'web:80', le: '10' }, value: 60 },
      { metric: { ...web, authority: 'web:80', le: '+Inf' }, value: 60 },
    ]);
    view.add('tcp', 'openConnections', [{ metric: { ...web }, value: 4 }]);
    view.finish();
    const result = view.query(60_000, (key) => (key.direction === 'inbound' ? `${key.workload}/${key.scope}` : undefined));
    assert.equal(result.seconds, 60);
    const svc = result.groups.get('deployment/web/svc');
    assert.deepEqual([svc?.success, svc?.failure, svc?.tlsRequests], [117, 3, 60]);
    const [p50 = 0] = percentilesOfDense(svc?.latency ?? new Float64Array(0), [0.5]);
    assert.ok(p50 > 4_900 && p50 < 5_100, String(p50));
    assert.equal(result.groups.get('deployment/web/tcp')?.openConnections, 4);
    assert.deepEqual(view.reportingPods().map((p) => p.pod).sort(), ['web-1', 'web-2']);
    assert.match(view.describe(), /Prometheus at http:\/\/prom:9090\/: 3 series/);
  });

  it('leaves out the classes a query does not ask for', () => {
    const view = new PrometheusView(10_000, 0, 'x');
    view.add('svc', 'responses', [{ metric: { ...web, direction: 'outbound', classification: 'success' }, value: 5 }]);
    assert.equal(view.query(10_000, () => 'all', undefined, { directions: ['inbound'] }).groups.size, 0);
    assert.equal(view.query(10_000, () => 'all').groups.get('all')?.success, 5);
  });
});

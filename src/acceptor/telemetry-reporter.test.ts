// The proxy's telemetry reporter against the controller's real store, with a sender the test controls:
// deltas become reports, an unreachable controller loses nothing, a retried report is not counted twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReportRequest } from '../api/telemetry-messages.ts';
import type { TelemetryConfig } from '../config/proxy-config.ts';
import { TelemetryStore } from '../control/telemetry/store.ts';
import { Logger } from '../log/logger.ts';
import { percentilesOfDense } from '../telemetry/exact-latency.ts';
import { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import { TelemetryCollector } from '../telemetry/report-delta.ts';
import { BUCKET_BOUNDS_TENTH_MS, SeriesAccumulator } from './telemetry-accumulator.ts';
import { buildReport } from './telemetry-report-builder.ts';
import { ipAddress } from './telemetry-series-shape.ts';
import { TelemetryReporter, type ReportSender } from './telemetry-reporter.ts';

const CONFIG: TelemetryConfig = {
  svcAddr: { host: '127.0.0.1', port: 8086 },
  reportIntervalMs: 5000,
  podName: 'web-1',
  podNamespace: 'shop',
  workload: 'deployment/web',
  localIdentity: 'web.shop.serviceaccount.identity.sluice.cluster.local',
};
const quiet = (): Logger => new Logger('error', 'plain', 'test', () => {});
/** Every response takes 2 ms; HdrHistogram reports the top of 2000 µs's 8-µs bucket. */
const P50 = 2007;

type Mode = 'up' | 'down' | 'lost-answer';

/** Delivers reports into a store, or fails as an unreachable controller does (before or after applying). */
class FakeController implements ReportSender {
  mode: Mode = 'up';
  /** Every call as it came. */
  readonly calls: ReportRequest[] = [];
  /** Every report, the batched ones taken out of their call. */
  readonly received: ReportRequest[] = [];
  readonly store = new TelemetryStore();

  async report(request: ReportRequest): Promise<void> {
    // What goes on the wire is what the controller gets: a copy.
    const copy = structuredClone(request);
    if (this.mode === 'down') throw Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
    this.calls.push(copy);
    const { batched = [], ...outer } = copy;
    this.received.push(outer, ...batched);
    this.store.ingestCall(copy);
    if (this.mode === 'lost-answer') throw Object.assign(new Error('4 DEADLINE_EXCEEDED'), { code: 4 });
  }

  close(): void {}

  /** Inbound responses by classification for deployment/web over the last hour. */
  totals(): { success: number; failure: number; p50: number } {
    const result = this.store.query(3_600_000, (key) => (key.direction === 'inbound' && key.scope === 'svc' ? 'web' : undefined));
    const agg = result.groups.get('web');
    const [p50 = 0] = agg?.latency === undefined ? [] : percentilesOfDense(agg.latency, [0.5]);
    return { success: agg?.success ?? 0, failure: agg?.failure ?? 0, p50 };
  }
}

function setUp(maxPendingSeries?: number) {
  const metrics = new ProxyMetrics();
  const collector = new TelemetryCollector(metrics.registry);
  const controller = new FakeController();
  const reporter = new TelemetryReporter({
    config: CONFIG,
    log: quiet(),
    collect: async () => [collector.collect()],
    sender: controller,
    ...(maxPendingSeries === undefined ? {} : { maxPendingSeries }),
  });
  const serve = (ok: number, failed: number, authority = 'web:80'): void => {
    const stats = metrics.http('inbound', authority, { host: '10.1.0.5', port: 8080 });
    for (let i = 0; i < ok + failed; i++) {
      stats.request();
      stats.response(i < ok ? 200 : 500, -1, 2);
    }
  };
  return { metrics, controller, reporter, serve };
}

describe('TelemetryReporter', () => {
  it('sends one call per tick: a report per direction, the outbound one batched in the inbound one, naming the pod and workload, with sequence numbers', async () => {
    const { controller, reporter, serve } = setUp();
    serve(3, 1);
    await reporter.tick();
    assert.equal(controller.calls.length, 1);
    assert.equal(controller.calls[0]?.proxy, 'INBOUND');
    assert.deepEqual(controller.calls[0]?.batched?.map((r) => [r.proxy, r.sequence, r.instance_id, r.process?.scheduled_instance]), [['OUTBOUND', 1, reporter.instanceId, 'web-1']]);
    assert.equal(controller.received.length, 2);
    const inbound = controller.received.find((r) => r.proxy === 'INBOUND');
    const outbound = controller.received.find((r) => r.proxy === 'OUTBOUND');
    assert.deepEqual(inbound?.process, {
      scheduled_instance: 'web-1',
      scheduled_namespace: 'shop',
      workload: 'deployment/web',
      identity: 'web.shop.serviceaccount.identity.sluice.cluster.local',
    });
    assert.equal(inbound?.sequence, 1);
    assert.equal(inbound?.instance_id, reporter.instanceId);
    assert.equal(inbound?.requests?.length, 1);
    assert.equal(inbound?.requests?.[0]?.count, 4);
    assert.deepEqual(outbound?.requests, []);
    assert.deepEqual(controller.totals(), { success: 3, failure: 1, p50: P50 });
    await reporter.tick();
    assert.equal(controller.received.find((r) => r.proxy === 'INBOUND' && r.sequence === 2)?.requests?.length, 0);
    assert.deepEqual(controller.totals(), { success: 3, failure: 1, p50: P50 });
  });

  it('keeps counting while the controller is unreachable and sends the merged counts when it is back', async () => {
    const { controller, reporter, serve } = setUp();
    serve(5, 0);
    await reporter.tick();
    controller.mode = 'down';
    for (let i = 0; i < 4; i++) {
      serve(10, 2);
      await reporter.tick();
    }
    assert.ok(reporter.stats.failed >= 4);
    assert.deepEqual(controller.totals(), { success: 5, failure: 0, p50: P50 });
    controller.mode = 'up';
    serve(1, 0);
    await reporter.tick();
    // 5 before, 48 during the outage, 1 after: every one counted once.
    assert.deepEqual(controller.totals(), { success: 5 + 40 + 1, failure: 8, p50: P50 });
    await reporter.tick();
    assert.deepEqual(controller.totals(), { success: 46, failure: 8, p50: P50 });
  });

  it('retries a report whose answer was lost with the same sequence, which the controller applies once', async () => {
    const { controller, reporter, serve } = setUp();
    serve(7, 0);
    controller.mode = 'lost-answer';
    await reporter.tick();
    serve(2, 0);
    controller.mode = 'up';
    await reporter.tick();
    const inbound = controller.received.filter((r) => r.proxy === 'INBOUND').map((r) => [r.sequence, r.requests?.[0]?.count ?? 0]);
    assert.deepEqual(inbound, [
      [1, 7],
      [1, 7],
      [2, 2],
    ]);
    assert.equal(controller.store.counters.duplicateReports, 2); // the inbound and the outbound retry
    assert.deepEqual(controller.totals(), { success: 9, failure: 0, p50: P50 });
  });

  it('bounds what it keeps during an outage by the number of series, and says so', async () => {
    const metrics = new ProxyMetrics();
    const collector = new TelemetryCollector(metrics.registry);
    const controller = new FakeController();
    const logged: string[] = [];
    const reporter = new TelemetryReporter({
      config: CONFIG,
      log: new Logger('warn', 'plain', 'test', (line) => logged.push(line)),
      collect: async () => [collector.collect()],
      sender: controller,
      maxPendingSeries: 4,
    });
    controller.mode = 'down';
    await reporter.tick(); // the first (empty) report is now the one awaiting its answer
    for (let i = 0; i < 10; i++) metrics.http('inbound', `svc-${i}:80`, undefined).request();
    await reporter.tick();
    assert.ok(logged.some((line) => line.includes('dropping new ones') && line.includes('dropped=6')), logged.join('\n'));
    controller.mode = 'up';
    await reporter.tick();
    const sent = controller.received.filter((r) => r.proxy === 'INBOUND').flatMap((r) => r.requests ?? []);
    assert.deepEqual(sent.map((scope) => scope.count), [1, 1, 1, 1]);
  });

  it('drops a report the controller can never take (no Telemetry service) instead of resending it forever', async () => {
    const { controller, reporter, serve } = setUp();
    const real = controller.report.bind(controller);
    let refuse = true;
    controller.report = async (request) => {
      if (refuse) throw Object.assign(new Error('12 UNIMPLEMENTED: unknown service'), { code: 12 });
      return real(request);
    };
    serve(3, 0);
    await reporter.tick();
    assert.equal(reporter.stats.dropped, 1); // one call: both directions
    refuse = false;
    serve(1, 0);
    await reporter.tick();
    assert.deepEqual(controller.totals(), { success: 1, failure: 0, p50: P50 });
  });

  it('stop() makes a last attempt, and gives up in time when the controller does not answer', async () => {
    const { controller, reporter, serve } = setUp();
    serve(2, 0);
    await reporter.stop(1000);
    assert.equal(controller.totals().success, 2);

    const hanging = new TelemetryReporter({
      config: CONFIG,
      log: quiet(),
      collect: async () => [],
      sender: { report: () => new Promise(() => {}), close: () => {} },
    });
    const started = Date.now();
    await hanging.stop(100);
    assert.ok(Date.now() - started < 2000);
  });
});

describe('buildReport', () => {
  it("writes Conduit's bucket bounds, per-status response scopes with ends, and transports by peer", () => {
    const pending = new SeriesAccumulator(100);
    const base = 'direction="outbound",authority="books:80",target_addr="10.0.0.9:7000",target_ip="10.0.0.9",target_port="7000",tls="disabled",dst_namespace="shop",dst_deployment="books",dst_service="books"';
    pending.add('request_total', base, 3);
    pending.add('response_total', `${base},status_code="200",classification="success",grpc_status="0",error=""`, 2);
    pending.add('response_total', `${base},status_code="200",classification="failure",grpc_status="14",error=""`, 1);
    pending.add('response_latency_ms', `${base},status_code="200"`, { buckets: [0, 3, ...new Array(24).fill(0)], exact: [1500, 3] });
    const tcp = 'direction="outbound",peer="dst",target_addr="10.0.0.9:7000",target_ip="10.0.0.9",target_port="7000",tls="disabled"';
    pending.add('tcp_open_total', tcp, 1);
    pending.add('tcp_close_total', `${tcp},errno=""`, 1);
    pending.setGauges(new Map([['tcp_open_connections', new Map([[tcp, 2]])]]));
    const report = buildReport(
      { direction: 'outbound', process: { scheduled_instance: 'web-1' }, instanceId: 'abc', sequence: 9, intervalMs: 5000, reportIntervalMs: 5000 },
      pending,
    );
    assert.equal(report.proxy, 'OUTBOUND');
    assert.deepEqual(report.histogram_bucket_bounds_tenth_ms, [...BUCKET_BOUNDS_TENTH_MS]);
    assert.equal(report.histogram_bucket_bounds_tenth_ms?.length, 26);
    assert.equal(report.histogram_bucket_bounds_tenth_ms?.[0], 10);
    assert.equal(report.histogram_bucket_bounds_tenth_ms?.[25], 4294967295);
    const scope = report.requests?.[0];
    assert.equal(report.requests?.length, 1);
    assert.equal(scope?.count, 3);
    assert.deepEqual(scope?.ctx?.dst_labels, { namespace: 'shop', deployment: 'books', service: 'books' });
    assert.equal(scope?.ctx?.authority, 'books:80');
    assert.deepEqual(scope?.ctx?.target_addr, { ip: { ipv4: 0x0a000009 }, port: 7000 });
    const response = scope?.responses?.[0];
    assert.equal(response?.ctx?.http_status_code, 200);
    assert.deepEqual(response?.ends?.map((e) => [e.ctx?.grpc_status_code, e.ctx?.classification, e.streams]), [
      [0, 'success', 2],
      [14, 'failure', 1],
    ]);
    assert.equal(response?.response_latency_counts?.[1], 3);
    assert.ok((response?.latency_hdr?.length ?? 0) > 0);
    assert.deepEqual(report.client_transports, [
      { connects: 1, disconnect_count: 1, open_connections: 2, read_bytes: 0, write_bytes: 0, dst_labels: {}, tls: 'disabled', target_addr: { ip: { ipv4: 0x0a000009 }, port: 7000 } },
    ]);
    assert.deepEqual(report.server_transports, []);
  });

  it("carries Linkerd's client_id, server_id and no_tls_reason labels on request scopes and transports", () => {
    const pending = new SeriesAccumulator(100);
    const inbound = 'direction="inbound",authority="books:80",target_addr="10.0.0.9:7000",target_ip="10.0.0.9",target_port="7000"';
    pending.add('request_total', `${inbound},tls="true",client_id="web.shop.serviceaccount.identity.sluice.cluster.local"`, 2);
    pending.add('request_total', `${inbound},tls="no_identity",no_tls_reason="no_tls_from_remote"`, 1);
    const tcp = 'direction="outbound",peer="dst",target_addr="10.0.0.9:7000",target_ip="10.0.0.9",target_port="7000"';
    pending.add('tcp_open_total', `${tcp},tls="true",server_id="books.shop.serviceaccount.identity.sluice.cluster.local"`, 1);
    const report = buildReport({ direction: 'inbound', process: {}, instanceId: 'abc', sequence: 1, intervalMs: 5000, reportIntervalMs: 5000 }, pending);
    assert.deepEqual(
      report.requests?.map((s) => [s.count, s.ctx?.tls, s.ctx?.client_id, s.ctx?.no_tls_reason]),
      [
        [2, 'true', 'web.shop.serviceaccount.identity.sluice.cluster.local', undefined],
        [1, 'no_identity', undefined, 'no_tls_from_remote'],
      ],
    );
    assert.equal(report.client_transports?.[0]?.server_id, 'books.shop.serviceaccount.identity.sluice.cluster.local');
    assert.equal(report.client_transports?.[0]?.client_id, undefined);
  });

  it('writes IPv6 addresses exactly (64-bit halves as decimal strings)', () => {
    assert.deepEqual(ipAddress('2001:db8::1'), { ipv6: { first: (0x20010db8n << 32n).toString(), last: '1' } });
    assert.deepEqual(ipAddress('::ffff:10.0.0.1'), { ipv6: { first: '0', last: ((0xffffn << 32n) | 0x0a000001n).toString() } });
    assert.equal(ipAddress('web.shop'), undefined);
  });
});

// What the proxy sends is what it counted: random traffic on two serving threads, reported over a few
// intervals while the controller is sometimes unreachable, then the bytes the sender was handed decoded
// as the controller decodes them and summed. Every request, response end, latency bucket, exact latency
// and connection arrives once, under the scope it was counted in; and the bytes are exactly what the
// table-driven encoder writes for the report object (what went on the wire before the reporter encoded
// its reports itself).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ReportRequest } from '../api/telemetry-messages.ts';
import type { TelemetryConfig } from '../config/proxy-config.ts';
import { Logger } from '../log/logger.ts';
import { indexOfMicros } from '../telemetry/exact-latency.ts';
import { decodeLatencyHdr } from '../telemetry/hdr-codec.ts';
import { LATENCY_BUCKETS_MS } from '../telemetry/metrics.ts';
import { ProxyMetrics, type Direction } from '../telemetry/proxy-metrics.ts';
import { TelemetryCollector } from '../telemetry/report-delta.ts';
import { decodeMessage, encodeMessage } from './grpc/protobuf-schema.ts';
import { ReportRequest as ReportRequestSpec } from './grpc/telemetry-schema.ts';
import { TelemetryReporter, type ReportSender } from './telemetry-reporter.ts';

const CONFIG: TelemetryConfig = {
  svcAddr: { host: '127.0.0.1', port: 8086 },
  reportIntervalMs: 5000,
  podName: 'web-1',
  podNamespace: 'shop',
  workload: 'deployment/web',
  localIdentity: '',
};
const AUTHORITIES = ['web:80', 'books.shop.svc.cluster.local:8080', 'authors:7000'];
const TARGET = { host: '10.0.0.1', port: 80 };
const TICKS = 4;

interface Request {
  readonly tick: number;
  readonly worker: number;
  readonly direction: Direction;
  readonly authority: string;
  readonly status: number;
  readonly grpcStatus: number;
  readonly latencyUs: number;
}

const requestArbitrary: fc.Arbitrary<Request> = fc.record({
  tick: fc.integer({ min: 0, max: TICKS - 1 }),
  worker: fc.integer({ min: 0, max: 1 }),
  direction: fc.constantFrom<Direction>('inbound', 'outbound'),
  authority: fc.constantFrom(...AUTHORITIES),
  status: fc.constantFrom(200, 404, 503),
  grpcStatus: fc.constantFrom(-1, 0, 14),
  latencyUs: fc.integer({ min: 50, max: 3_000_000 }),
});

/** Adds `n` to `map[key]`. */
function add(map: Map<string, number>, key: string, n: number): void {
  if (n !== 0) map.set(key, (map.get(key) ?? 0) + n);
}

/** The totals a report stream must add up to, by key: what was counted, or what the reports say. */
interface Totals {
  readonly requests: Map<string, number>;
  readonly ends: Map<string, number>;
  readonly buckets: Map<string, number>;
  readonly exact: Map<string, number>;
  readonly connects: Map<string, number>;
  readonly readBytes: Map<string, number>;
}

function emptyTotals(): Totals {
  return { requests: new Map(), ends: new Map(), buckets: new Map(), exact: new Map(), connects: new Map(), readBytes: new Map() };
}

/** What the serving threads counted, worked out from the requests themselves. */
function counted(requests: readonly Request[]): Totals {
  const totals = emptyTotals();
  for (const r of requests) {
    const proxy = r.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND';
    const scope = `${proxy} ${r.authority}`;
    add(totals.requests, scope, 1);
    const failed = r.grpcStatus === -1 ? r.status >= 500 : r.grpcStatus !== 0;
    const end = r.grpcStatus === -1 ? 'other' : `grpc ${r.grpcStatus}`;
    add(totals.ends, `${scope} ${r.status} ${end} ${failed ? 'failure' : 'success'}`, 1);
    const ms = r.latencyUs / 1000;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_MS.length && ms > (LATENCY_BUCKETS_MS[bucket] as number)) bucket++;
    add(totals.buckets, `${scope} ${r.status} ${bucket}`, 1);
    add(totals.exact, `${scope} ${r.status} ${indexOfMicros(r.latencyUs)}`, 1);
    const peer = r.direction === 'inbound' ? 'server' : 'client';
    add(totals.connects, `${proxy} ${peer}`, 1);
    add(totals.readBytes, `${proxy} ${peer}`, r.latencyUs);
  }
  return totals;
}

/** What the controller reads in the reports it accepted. */
function reported(reports: readonly ReportRequest[]): Totals {
  const totals = emptyTotals();
  for (const report of reports) {
    for (const scope of report.requests ?? []) {
      const key = `${report.proxy} ${scope.ctx?.authority}`;
      add(totals.requests, key, scope.count ?? 0);
      for (const response of scope.responses ?? []) {
        const status = response.ctx?.http_status_code ?? 0;
        for (const end of response.ends ?? []) {
          const how = end.ctx?.other === true ? 'other' : `grpc ${end.ctx?.grpc_status_code ?? 0}`;
          add(totals.ends, `${key} ${status} ${how} ${end.ctx?.classification}`, end.streams ?? 0);
        }
        (response.response_latency_counts ?? []).forEach((n, bucket) => add(totals.buckets, `${key} ${status} ${bucket}`, n));
        const pairs = decodeLatencyHdr(response.latency_hdr ?? new Uint8Array(0));
        for (let i = 0; i < pairs.length; i += 2) add(totals.exact, `${key} ${status} ${pairs[i]}`, pairs[i + 1] as number);
      }
    }
    for (const [peer, transports] of [['server', report.server_transports], ['client', report.client_transports]] as const) {
      for (const transport of transports ?? []) {
        add(totals.connects, `${report.proxy} ${peer}`, transport.connects ?? 0);
        add(totals.readBytes, `${report.proxy} ${peer}`, transport.read_bytes ?? 0);
      }
    }
  }
  return totals;
}

/** A controller that takes a call unless it is down, and keeps the bytes it was handed. */
class RecordingController implements ReportSender {
  down = false;
  readonly accepted: ReportRequest[] = [];
  readonly bytesMatched: boolean[] = [];

  async report(request: ReportRequest, _timeoutMs: number, encoded?: Buffer): Promise<void> {
    assert.ok(encoded !== undefined, 'the reporter hands over the bytes it encoded');
    this.bytesMatched.push(encoded.equals(encodeMessage(ReportRequestSpec, request)));
    if (this.down) throw Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
    const call = decodeMessage(ReportRequestSpec, encoded, { longs: 'number' }) as ReportRequest;
    const { batched = [], ...outer } = call;
    this.accepted.push(outer, ...batched);
  }

  close(): void {}
}

describe('what the reporter sends', { timeout: 120_000 }, () => {
  it('decodes to exactly what the serving threads counted, across outages and retries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArbitrary, { maxLength: 120 }), fc.array(fc.boolean(), { minLength: TICKS, maxLength: TICKS }), async (requests, downAt) => {
        const workers = [new ProxyMetrics(), new ProxyMetrics()];
        const collectors = workers.map((metrics) => new TelemetryCollector(metrics.registry));
        const controller = new RecordingController();
        const reporter = new TelemetryReporter({
          config: CONFIG,
          log: new Logger('error', 'plain', 'test', () => {}),
          // As the worker pool hands them over: a copy per worker, as postMessage makes.
          collect: async () => collectors.map((collector) => structuredClone(collector.collect())),
          sender: controller,
        });
        for (let tick = 0; tick < TICKS; tick++) {
          for (const r of requests.filter((request) => request.tick === tick)) {
            const metrics = workers[r.worker] as ProxyMetrics;
            const stats = metrics.http(r.direction, r.authority, TARGET);
            stats.request();
            stats.response(r.status, r.grpcStatus, r.latencyUs / 1000);
            const tcp = metrics.tcp(r.direction, r.direction === 'inbound' ? 'src' : 'dst', TARGET);
            tcp.opened.inc();
            tcp.readBytes.inc(r.latencyUs);
          }
          controller.down = downAt[tick] === true;
          await reporter.tick();
        }
        controller.down = false;
        await reporter.tick();
        assert.deepEqual(reported(controller.accepted), counted(requests));
        assert.ok(controller.bytesMatched.every(Boolean), 'every call was sent as encodeMessage writes it');
        // Each direction's sequence numbers arrive once each: a retried report was not applied twice.
        for (const proxy of ['INBOUND', 'OUTBOUND']) {
          const sequences = controller.accepted.filter((r) => r.proxy === proxy).map((r) => r.sequence);
          assert.equal(new Set(sequences).size, sequences.length);
        }
      }),
      { numRuns: 40 },
    );
  });
});

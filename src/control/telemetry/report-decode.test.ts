// The hand-written report decoder gives exactly what the proto loader (protobufjs) gives, for the
// reports proxies send and for generated ones with every field, and rejects cut-short bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE, type ReportRequest } from '../../api/telemetry-messages.ts';
import { decodeReportRequest, ReportDecodeCaches } from './report-decode.ts';
import { syntheticReport } from './testkit.ts';

const method = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service['Report'];
if (method === undefined) throw new Error('Telemetry.Report is not in the loaded protos');
const encode = (report: ReportRequest): Buffer => method.requestSerialize(report) as Buffer;
const reference = (bytes: Buffer): unknown => method.requestDeserialize(bytes);

/** Buffers compared by content (the decoder and protobufjs both give views into the request). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? { bytes: (v as { data: number[] }).data } : v)));
}

const text = fc.string({ maxLength: 12 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u53 = fc.maxSafeInteger().map((n) => Math.abs(n));
const labels = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), text, { maxKeys: 3 });
const ip = fc.oneof(fc.record({ ipv4: u32 }), fc.record({ ipv6: fc.record({ first: fc.integer({ min: 0, max: 2 ** 52 }), last: fc.integer({ min: 0, max: 2 ** 52 }) }) }));
const tcp = fc.record({ ip, port: fc.integer({ min: 0, max: 65535 }) }, { requiredKeys: [] });
const end = fc.oneof(
  fc.record({ grpc_status_code: fc.integer({ min: 0, max: 16 }) }),
  fc.record({ reset_error_code: fc.integer({ min: 0, max: 13 }) }),
  fc.record({ other: fc.boolean() }),
);
const response = fc.record(
  {
    ctx: fc.record({ http_status_code: fc.integer({ min: 100, max: 599 }) }),
    response_latency_counts: fc.array(u32, { maxLength: 26 }),
    ends: fc.array(fc.record({ ctx: fc.tuple(end, fc.record({ classification: text, error: text }, { requiredKeys: [] })).map(([a, b]) => ({ ...a, ...b })), streams: u32 }, { requiredKeys: [] }), { maxLength: 3 }),
    latency_hdr: fc.uint8Array({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);
const scope = fc.record(
  {
    ctx: fc.record({ source_ip: ip, target_addr: tcp, authority: text, dst_labels: labels, route_scope: fc.boolean(), route_labels: labels, tls: text, actual: fc.boolean(), client_id: text, server_id: text, no_tls_reason: text }, { requiredKeys: [] }),
    count: u32,
    responses: fc.array(response, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const transportFields = {
  target_addr: tcp,
  connects: u32,
  disconnects: fc.array(fc.record({ duration_ms: u53, bytes_sent: u53 }, { requiredKeys: [] }), { maxLength: 2 }),
  protocol: fc.constantFrom('HTTP', 'TCP'),
  open_connections: u53,
  read_bytes: u53,
  write_bytes: u53,
  disconnect_count: u32,
  dst_labels: labels,
  tls: text,
  client_id: text,
  server_id: text,
  no_tls_reason: text,
};
const report = fc.record(
  {
    process: fc.record({ node: text, scheduled_instance: text, scheduled_namespace: text, workload: text, identity: text }, { requiredKeys: [] }),
    proxy: fc.constantFrom('INBOUND', 'OUTBOUND'),
    server_transports: fc.array(fc.record({ source_ip: ip, ...transportFields }, { requiredKeys: [] }), { maxLength: 2 }),
    client_transports: fc.array(fc.record(transportFields, { requiredKeys: [] }), { maxLength: 2 }),
    requests: fc.array(scope, { maxLength: 3 }),
    histogram_bucket_bounds_tenth_ms: fc.array(u32, { maxLength: 26 }),
    instance_id: text,
    sequence: u53,
    interval_ms: u53,
    report_interval_ms: u53,
  },
  { requiredKeys: [] },
);

describe('decodeReportRequest', () => {
  it('decodes what proxies send as protobufjs does', () => {
    for (const sample of [
      syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'outbound', instance: 'i-1', sequence: 9, requests: [{ ok: 90, failed: 2, latencyUs: 1500, tls: 'true' }, { ok: 5, route: 'GET /books', actual: true }] }),
      syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 3, failed: 1, route: 'GET /', dst: { namespace: 'shop', pod: 'api-1' } }], transports: [{ connects: 2, open_connections: 1, read_bytes: 10, dst_labels: { service: 'api' } }] }),
    ]) {
      const bytes = encode(sample);
      assert.deepEqual(plain(decodeReportRequest(bytes)), plain(reference(bytes)));
    }
  });

  it('decodes any report as protobufjs does (every field, oneofs, maps, 64-bit numbers)', () => {
    fc.assert(
      fc.property(report, (r) => {
        const bytes = encode(r as ReportRequest);
        assert.deepEqual(plain(decodeReportRequest(bytes)), plain(reference(bytes)));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes a report carrying the other direction in `batched` as protobufjs does', () => {
    const inbound = syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'inbound', instance: 'i-1', sequence: 3, requests: [{ ok: 7, failed: 1 }] });
    const outbound = syntheticReport({ pod: 'web-1', workload: 'deployment/web', direction: 'outbound', instance: 'i-1', sequence: 3, requests: [{ ok: 4, dst: { namespace: 'shop', pod: 'api-1' } }] });
    const bytes = encode({ ...inbound, batched: [outbound] });
    const decoded = decodeReportRequest(bytes);
    assert.deepEqual(plain(decoded), plain(reference(bytes)));
    assert.equal(decoded.batched?.[0]?.proxy, 'OUTBOUND');
    assert.equal(decoded.batched?.[0]?.requests?.[0]?.count, 4);
  });

  it("with the controller's caches, gives the same report, less bucket counts beside an exact histogram, sharing contexts between reports", () => {
    /** What the controller's decode leaves out: bucket counts where the response has an exact histogram. */
    const withoutShadowedCounts = (value: unknown): unknown => {
      const copy = plain(value) as ReportRequest;
      for (const scope of copy.requests ?? []) for (const response of scope.responses ?? []) if (((response.latency_hdr as unknown as { bytes?: number[] })?.bytes?.length ?? 0) > 0) delete response.response_latency_counts;
      return copy;
    };
    const caches = new ReportDecodeCaches();
    fc.assert(
      fc.property(report, (r) => {
        const bytes = encode(r as ReportRequest);
        const expected = withoutShadowedCounts(reference(bytes));
        const first = decodeReportRequest(bytes, caches);
        const again = decodeReportRequest(Buffer.from(bytes), caches);
        assert.deepEqual(plain(first), expected);
        assert.deepEqual(plain(again), expected);
        // The second decode of the same bytes hands out the same frozen contexts.
        for (const [k, scope] of (again.requests ?? []).entries()) {
          if (scope.ctx === undefined) continue;
          assert.equal(scope.ctx, first.requests?.[k]?.ctx);
          assert.ok(Object.isFrozen(scope.ctx));
        }
        if (again.process !== undefined) assert.equal(again.process, first.process);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects batched reports nested inside a batched report', () => {
    const leaf = syntheticReport({ pod: 'web-1', direction: 'outbound', requests: [{ ok: 1 }] });
    const bytes = encode({ batched: [{ ...leaf, batched: [leaf] }] });
    assert.throws(() => decodeReportRequest(bytes), /batched report carries batched reports/);
  });

  it('rejects a report cut short instead of reading past it', () => {
    const bytes = encode(syntheticReport({ pod: 'web-1', requests: [{ ok: 3, failed: 1 }, { ok: 2, route: 'GET /' }], instance: 'i-1', sequence: 4 }));
    for (const cut of [1, 7, Math.floor(bytes.length / 2), bytes.length - 1]) {
      assert.throws(() => decodeReportRequest(bytes.subarray(0, cut)), /truncated|past the end/, `cut at ${cut}`);
    }
  });
});

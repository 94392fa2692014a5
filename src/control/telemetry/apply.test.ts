// What the Report handler does with a call's bytes (apply.ts) fills the store and the peer-identity
// index exactly as decoding without caches and applying the plain report did, over random sequences
// of reports in which proxies add, drop, reorder and change their series between reports (the
// decoder's shared contexts and the store's same-object shortcuts must never mistake one series for
// another).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE, type ReportRequest } from '../../api/telemetry-messages.ts';
import { applyReportCall } from './apply.ts';
import { latencyPercentiles } from './keys.ts';
import { PeerIdentities } from './peer-identities.ts';
import { decodeReportRequest, ReportDecodeCaches } from './report-decode.ts';
import { TelemetryStore } from './store.ts';
import { ManualClock, syntheticReport, type SyntheticRequests } from './testkit.ts';

const method = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service['Report'];
if (method === undefined) throw new Error('Telemetry.Report is not in the loaded protos');
const encode = (report: ReportRequest): Buffer => method.requestSerialize(report) as Buffer;

/** A small pool of series, so that reports share, reorder and swap them. */
const series = fc.record({
  authority: fc.constantFrom('web.shop:80', 'api.shop:80'),
  ok: fc.integer({ min: 0, max: 5 }),
  failed: fc.integer({ min: 0, max: 2 }),
  latencyUs: fc.integer({ min: 1, max: 100_000 }),
  dst: fc.constantFrom<Record<string, string>>({}, { namespace: 'shop', pod: 'api-1', deployment: 'api' }, { namespace: 'shop', pod: 'api-2', deployment: 'api', service: 'api' }),
  route: fc.constantFrom(undefined, 'GET /', 'POST /x'),
  tls: fc.constantFrom('true', 'disabled'),
});
const transport = fc.record({
  connects: fc.integer({ min: 0, max: 3 }),
  open_connections: fc.integer({ min: 0, max: 3 }),
  read_bytes: fc.integer({ min: 0, max: 1000 }),
  tls: fc.constantFrom('true', 'no_identity'),
  server_id: fc.constantFrom('', 'api.shop.serviceaccount.identity.sluice.cluster.local'),
  dst_labels: fc.constantFrom<Record<string, string>>({}, { namespace: 'shop', pod: 'api-1', deployment: 'api' }),
});
const call = fc.record({
  pod: fc.constantFrom('web-1', 'web-2', 'api-1'),
  inbound: fc.array(series, { maxLength: 4 }),
  outbound: fc.array(series, { maxLength: 4 }),
  transports: fc.array(transport, { maxLength: 3 }),
  gapMs: fc.integer({ min: 0, max: 15_000 }),
});

function contents(store: TelemetryStore, identities: PeerIdentities): unknown {
  const groups = store.query(3_600_000, (key) => JSON.stringify(key)).groups;
  const rows = [...groups].map(([key, agg]) => [key, agg.requests, agg.success, agg.failure, agg.tlsRequests, agg.opened, agg.readBytes, agg.openConnections, latencyPercentiles(agg, [0.5, 0.99, 1])]);
  const sightings = [...identities.since(0)].map((s) => JSON.stringify([s.key, s.tls, s.peer, s.reason, s.lastSeen]));
  return { rows: rows.sort(), sightings: sightings.sort(), keys: store.keyCount, bytes: store.byteSize, counters: store.counters };
}

describe('applyReportCall', () => {
  it('gives the same store and peer identities as the plain decode and apply, report after report', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 12 }), (calls) => {
        const clock = new ManualClock();
        clock.advance(2 * 3_600_000);
        const caches = new ReportDecodeCaches();
        const viaBytes = { store: new TelemetryStore({ now: clock.read }), identities: new PeerIdentities() };
        const plain = { store: new TelemetryStore({ now: clock.read }), identities: new PeerIdentities() };
        const sequences = new Map<string, number>();
        for (const c of calls) {
          clock.advance(c.gapMs);
          const sequence = (sequences.get(c.pod) ?? 0) + 1;
          sequences.set(c.pod, sequence);
          const common = { pod: c.pod, workload: `deployment/${c.pod.split('-')[0]}`, instance: `i-${c.pod}`, sequence };
          const inbound = syntheticReport({ ...common, direction: 'inbound', requests: c.inbound as SyntheticRequests[] });
          const outbound = syntheticReport({ ...common, direction: 'outbound', requests: c.outbound as SyntheticRequests[], transports: c.transports });
          const bytes = encode({ ...inbound, batched: [outbound] });
          const now = clock.read();
          applyReportCall(bytes, viaBytes.store, viaBytes.identities, now, caches);
          const report = decodeReportRequest(bytes);
          if (plain.store.ingestCall(report, now)) {
            plain.identities.observe(report, now);
            for (const batched of report.batched ?? []) plain.identities.observe(batched, now);
          }
        }
        assert.deepEqual(contents(viaBytes.store, viaBytes.identities), contents(plain.store, plain.identities));
      }),
      { numRuns: 150 },
    );
  });

  it('rejects bytes that are not a report, applying nothing', () => {
    const store = new TelemetryStore();
    assert.throws(() => applyReportCall(Buffer.from([0x0a, 0x7f, 0x01]), store, new PeerIdentities(), Date.now(), new ReportDecodeCaches()), /past the end/);
    assert.equal(store.keyCount, 0);
    assert.equal(store.counters.reports, 0);
  });
});

// The controller's Telemetry service (`sluice.proxy.telemetry.Telemetry`: `Report` and `ReportStream`,
// on the proxy API port; report-service.ts) and the store it fills, which the public API reads.
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../../api/telemetry-messages.ts';
import type { Component, ControllerContext } from '../context.ts';
import { PeerIdentities } from './peer-identities.ts';
import { ReportDecodeCaches } from './report-decode.ts';
import { PeerForwarder } from './peers.ts';
import { reportHandler, reportStreamHandler, type ReportIngestDeps, type StreamCounters } from './report-service.ts';
import { TelemetryStore } from './store.ts';

/** How often old slots are folded and expired. */
const MAINTAIN_EVERY_MS = 10_000;

const stores = new WeakMap<ControllerContext, TelemetryStore>();

/** The controller's one telemetry store (created on first use, whichever component asks first). */
export function telemetryStore(ctx: ControllerContext): TelemetryStore {
  let store = stores.get(ctx);
  if (store === undefined) {
    store = new TelemetryStore();
    stores.set(ctx, store);
  }
  return store;
}

const identities = new WeakMap<ControllerContext, PeerIdentities>();

/** Who talked to whom over mTLS, from the same reports (`sluice edges`; created on first use). */
export function telemetryIdentities(ctx: ControllerContext): PeerIdentities {
  let index = identities.get(ctx);
  if (index === undefined) {
    index = new PeerIdentities();
    identities.set(ctx, index);
  }
  return index;
}

export const telemetryComponent: Component = (ctx) => {
  const store = telemetryStore(ctx);
  const peerIdentities = telemetryIdentities(ctx);
  const peers =
    ctx.config.peers.kind === 'none'
      ? undefined
      : new PeerForwarder({ source: ctx.config.peers, podIp: ctx.config.podIp, ownPort: ctx.config.proxyApiAddr.port, self: ctx.config.podIp ?? String(process.pid), log: ctx.log });
  if (peers !== undefined) {
    ctx.onClose(() => peers.close());
    const { counters } = peers;
    ctx.addMetrics(() => [
      {
        name: 'sluice_controller_peer_reports_total',
        help: 'Telemetry reports forwarded to other controller replicas, by result.',
        kind: 'counter',
        series: [
          ['result="sent"', counters.forwarded],
          ['result="failed"', counters.failed],
          ['result="dropped"', counters.dropped],
        ],
      },
      { name: 'sluice_controller_peers', help: 'Other controller replicas reports are forwarded to.', kind: 'gauge', series: [['', peers.addresses.length]] },
    ]);
  }
  ctx.addMetrics(() => [
    { name: 'sluice_controller_telemetry_keys', help: 'Series (reporting pod, direction, scope, destination) the telemetry store holds.', kind: 'gauge', series: [['', store.keyCount]] },
    { name: 'sluice_controller_telemetry_bytes', help: 'Estimated bytes of the telemetry store (what its bound limits).', kind: 'gauge', series: [['', store.byteSize]] },
    {
      name: 'sluice_controller_telemetry_dropped_total',
      help: 'Telemetry the store let go to stay within its bounds: whole keys, or the oldest time slices of every key.',
      kind: 'counter',
      series: [
        ['what="keys"', store.counters.evictedKeys],
        ['what="slices"', store.counters.trimmedSlices],
      ],
    },
    { name: 'sluice_controller_telemetry_reports_total', help: 'Telemetry reports applied.', kind: 'counter', series: [['', store.counters.reports]] },
  ]);
  const loaded = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service;
  // Same service, but requests reach the handlers as bytes: they are decoded once, by the controller's
  // own decoder (apply.ts), not by grpc-js's protobufjs deserializer; stream answers are encoded by
  // report-service.ts and go out as they are.
  const raw = (bytes: Buffer): Buffer => bytes;
  const service: grpc.ServiceDefinition = {
    ...loaded,
    Report: { ...(loaded['Report'] as grpc.MethodDefinition<Buffer, object>), requestDeserialize: raw },
    ReportStream: { ...(loaded['ReportStream'] as grpc.MethodDefinition<Buffer, Buffer>), requestDeserialize: raw, responseSerialize: raw },
  };
  const deps: ReportIngestDeps = {
    store,
    identities: peerIdentities,
    caches: new ReportDecodeCaches(),
    log: ctx.log,
    peers,
    keepNothing: ctx.config.prometheusUrl !== undefined,
  };
  const streams: StreamCounters = { open: 0, opened: 0 };
  ctx.addMetrics(() => [
    { name: 'sluice_controller_telemetry_streams', help: 'Telemetry.ReportStream streams open (one per proxy that reports on a stream).', kind: 'gauge', series: [['', streams.open]] },
    { name: 'sluice_controller_telemetry_streams_opened_total', help: 'Telemetry.ReportStream streams opened.', kind: 'counter', series: [['', streams.opened]] },
  ]);
  ctx.proxyApi.addService(service, { Report: reportHandler(deps), ReportStream: reportStreamHandler(deps, streams) });
  const timer = setInterval(() => {
    store.maintain();
    peerIdentities.maintain(Date.now());
  }, MAINTAIN_EVERY_MS);
  timer.unref();
  ctx.onClose(() => clearInterval(timer));
};

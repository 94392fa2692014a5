// Synthetic telemetry reports for tests of the store and of the public API over it, and a client that
// sends one to a controller as a proxy does.
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../../api/telemetry-messages.ts';
import type { ReportRequest, RequestScope, TransportReport } from '../../api/telemetry-messages.ts';
import { indexOfMicros } from '../../telemetry/exact-latency.ts';
import { encodeLatencyHdr } from '../../telemetry/hdr-codec.ts';

export interface SyntheticRequests {
  readonly authority?: string;
  readonly ok?: number;
  readonly failed?: number;
  /** Latency of every response, in µs, or one per response (ok first, then failed). */
  readonly latencyUs?: number | readonly number[];
  readonly dst?: Readonly<Record<string, string>>;
  readonly route?: string;
  readonly actual?: boolean;
  readonly tls?: string;
}

export interface SyntheticReport {
  readonly namespace?: string;
  readonly pod: string;
  readonly workload?: string;
  readonly direction?: 'inbound' | 'outbound';
  readonly requests?: readonly SyntheticRequests[];
  readonly transports?: readonly TransportReport[];
  readonly instance?: string;
  readonly sequence?: number;
  readonly intervalMs?: number;
}

function latencyHdr(latencies: readonly number[]): Uint8Array {
  const counts = new Map<number, number>();
  for (const us of latencies) counts.set(indexOfMicros(us), (counts.get(indexOfMicros(us)) ?? 0) + 1);
  return encodeLatencyHdr([...counts].sort((a, b) => a[0] - b[0]).flat());
}

function scope(spec: SyntheticRequests): RequestScope {
  const ok = spec.ok ?? 0;
  const failed = spec.failed ?? 0;
  const total = ok + failed;
  const latencies = Array.isArray(spec.latencyUs) ? (spec.latencyUs as number[]) : new Array<number>(total).fill((spec.latencyUs as number | undefined) ?? 1000);
  const responses = [];
  if (ok > 0) {
    responses.push({ ctx: { http_status_code: 200 }, ends: [{ ctx: { other: true, classification: 'success' }, streams: ok }], latency_hdr: latencyHdr(latencies.slice(0, ok)) });
  }
  if (failed > 0) {
    responses.push({ ctx: { http_status_code: 500 }, ends: [{ ctx: { other: true, classification: 'failure' }, streams: failed }], latency_hdr: latencyHdr(latencies.slice(ok)) });
  }
  return {
    ctx: {
      authority: spec.authority ?? 'web.shop.svc.cluster.local:80',
      dst_labels: { ...(spec.dst ?? {}) },
      route_scope: spec.route !== undefined,
      route_labels: spec.route === undefined ? {} : { route: spec.route },
      actual: spec.actual === true,
      tls: spec.tls ?? 'disabled',
    },
    count: total,
    responses,
  };
}

/** A report as a proxy would send it (before the wire: the loader's object shape). */
export function syntheticReport(spec: SyntheticReport): ReportRequest {
  const direction = spec.direction ?? 'inbound';
  return {
    process: { scheduled_instance: spec.pod, scheduled_namespace: spec.namespace ?? 'shop', workload: spec.workload ?? '' },
    proxy: direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    requests: (spec.requests ?? []).map(scope),
    server_transports: direction === 'inbound' ? [...(spec.transports ?? [])] : [],
    client_transports: direction === 'outbound' ? [...(spec.transports ?? [])] : [],
    instance_id: spec.instance ?? '',
    sequence: spec.sequence ?? 0,
    interval_ms: spec.intervalMs ?? 5000,
    report_interval_ms: 5000,
  };
}

/** A clock tests move by hand. */
export class ManualClock {
  now: number;

  constructor(start = Date.UTC(2026, 0, 1, 12, 0, 0)) {
    this.now = start;
  }

  read = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }
}

/** Sends `report` to the Telemetry service at `addr` (`host:port`) and waits for the answer. */
export function sendReport(addr: string, report: ReportRequest): Promise<void> {
  const Client = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE);
  const client = new Client(addr, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  return new Promise<void>((resolve, reject) =>
    client['Report']?.(report, { deadline: Date.now() + 5_000 }, (error: Error | null) => (error ? reject(error) : resolve())),
  ).finally(() => client.close());
}

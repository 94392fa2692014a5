// Turns one direction's accumulated series (telemetry-accumulator.ts) into the `ReportRequest` the
// controller reads (proto/telemetry.proto): request scopes with their responses and ends, latency
// buckets and the exact latencies as one HdrHistogram per response, transports by peer. Series sharing a
// scope are found by the scope's key, worked out once per label string (telemetry-series-shape.ts).
// `steps()` pauses every few series so that the reporter can build a large report in slices
// (telemetry-slices.ts); buildReport() builds one at once.
import type { EosScope, ProcessInfo, ReportRequest, RequestScope, ResponseScope, TransportReport } from '../api/telemetry-messages.ts';
import { mergeSortedPairs } from '../telemetry/exact-pairs.ts';
import { encodeLatencyHdr } from '../telemetry/hdr-codec.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';
import { BUCKET_BOUNDS_TENTH_MS, BUCKETS, MAX_EXACT_ENTRIES, type PendingValue, type SeriesAccumulator } from './telemetry-accumulator.ts';
import { runToEnd } from './telemetry-slices.ts';
import { SeriesShapes, type ScopeKind, type SeriesShape } from './telemetry-series-shape.ts';

const U32_MAX = 0xffffffff;

/** What a family feeds: a request scope's count, a response's ends, a response's latency, or a transport. */
type Role = { readonly role: 'requests' | 'responses' | 'latency'; readonly kind: ScopeKind } | { readonly role: 'transport' };

const ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ['request_total', { role: 'requests', kind: 'svc' }],
  ['route_request_total', { role: 'requests', kind: 'route' }],
  ['route_actual_request_total', { role: 'requests', kind: 'actual' }],
  ['response_total', { role: 'responses', kind: 'svc' }],
  ['route_response_total', { role: 'responses', kind: 'route' }],
  ['route_actual_response_total', { role: 'responses', kind: 'actual' }],
  ['response_latency_ms', { role: 'latency', kind: 'svc' }],
  ['route_response_latency_ms', { role: 'latency', kind: 'route' }],
  ['route_actual_response_latency_ms', { role: 'latency', kind: 'actual' }],
]);

function roleOf(family: string): Role | undefined {
  return ROLES.get(family) ?? (family.startsWith('tcp_') ? { role: 'transport' } : undefined);
}

export interface ReportHeader {
  readonly direction: Direction;
  readonly process: ProcessInfo;
  readonly instanceId: string;
  readonly sequence: number;
  readonly intervalMs: number;
  readonly reportIntervalMs: number;
}

interface ResponseBuilder {
  readonly scope: ResponseScope;
  readonly ends: Map<string, EosScope>;
  /** Exact latencies of every latency series of the response, summed (sorted pairs). */
  exact: readonly number[] | undefined;
}

interface ScopeBuilder {
  readonly scope: RequestScope;
  readonly responses: Map<number, ResponseBuilder>;
}

interface TransportBuilder {
  readonly peer: string;
  readonly report: TransportReport;
}

/** Series handled between two pauses of steps(), and HdrHistograms encoded between two. */
const SERIES_PER_STEP = 16;
const HISTOGRAMS_PER_STEP = 4;

export class ReportBuilder {
  private readonly header: ReportHeader;
  private readonly pending: SeriesAccumulator;
  private readonly shapes: SeriesShapes;
  private readonly scopes: Record<ScopeKind, Map<string, ScopeBuilder>> = { svc: new Map(), route: new Map(), actual: new Map() };
  /** Request scopes and responses in the order they were first seen (the report's order). */
  private readonly requests: RequestScope[] = [];
  private readonly responses: ResponseBuilder[] = [];
  private readonly transports = new Map<string, TransportBuilder>();

  constructor(header: ReportHeader, pending: SeriesAccumulator, shapes: SeriesShapes) {
    this.header = header;
    this.pending = pending;
    this.shapes = shapes;
  }

  /** Builds the report's parts, pausing every few series; report() then gives the request. */
  *steps(): Generator<void> {
    // Index loops: see FamilySeries.
    let n = 0;
    for (const [family, series] of this.pending.counted) {
      const role = roleOf(family);
      if (role === undefined) continue;
      for (let i = 0; i < series.size; i++) {
        this.addSeries(family, role, this.shapes.of(series.labels[i] as string), series.values[i] as PendingValue, false);
        if (++n % SERIES_PER_STEP === 0) yield;
      }
    }
    for (const [family, series] of this.pending.current) {
      const role = roleOf(family);
      if (role === undefined) continue;
      for (let i = 0; i < series.size; i++) {
        this.addSeries(family, role, this.shapes.of(series.labels[i] as string), series.values[i] as number, true);
        if (++n % SERIES_PER_STEP === 0) yield;
      }
    }
    n = 0;
    for (let i = 0; i < this.responses.length; i++) {
      const response = this.responses[i] as ResponseBuilder;
      if (response.exact === undefined) continue;
      response.scope.latency_hdr = encodeLatencyHdr(response.exact);
      if (++n % HISTOGRAMS_PER_STEP === 0) yield;
    }
  }

  /** The request, once steps() has run to its end. */
  report(): ReportRequest {
    const server: TransportReport[] = [];
    const client: TransportReport[] = [];
    for (const { peer, report } of this.transports.values()) (peer === 'dst' ? client : server).push(report);
    const header = this.header;
    return {
      process: header.process,
      proxy: header.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
      server_transports: server,
      client_transports: client,
      requests: this.requests,
      histogram_bucket_bounds_tenth_ms: [...BUCKET_BOUNDS_TENTH_MS],
      instance_id: header.instanceId,
      sequence: header.sequence,
      interval_ms: Math.max(0, Math.round(header.intervalMs)),
      report_interval_ms: header.reportIntervalMs,
    };
  }

  private addSeries(family: string, role: Role, shape: SeriesShape, value: PendingValue, gauge: boolean): void {
    if (role.role === 'transport') {
      if (typeof value === 'number') this.addTransport(family, shape, value, gauge);
    } else if (role.role === 'requests') {
      if (typeof value !== 'number') return;
      const scope = this.scopeFor(role.kind, shape).scope;
      scope.count = clampU32((scope.count ?? 0) + value);
    } else if (role.role === 'responses') {
      if (typeof value !== 'number') return;
      const response = this.responseFor(this.scopeFor(role.kind, shape), shape.status);
      let end = response.ends.get(shape.endKey);
      if (end === undefined) {
        const ctx = shape.grpcStatus !== '' ? { grpc_status_code: Number(shape.grpcStatus) } : { other: true };
        end = { ctx: { ...ctx, classification: shape.classification, error: shape.error }, streams: 0 };
        response.ends.set(shape.endKey, end);
        response.scope.ends?.push(end);
      }
      end.streams = clampU32((end.streams ?? 0) + value);
    } else {
      if (typeof value === 'number') return;
      const response = this.responseFor(this.scopeFor(role.kind, shape), shape.status);
      const counts = (response.scope.response_latency_counts ??= new Array<number>(BUCKETS).fill(0));
      for (let i = 0; i < BUCKETS; i++) counts[i] = clampU32((counts[i] as number) + (value.buckets[i] as number));
      if (value.exact.length > 0) {
        // Usually one latency series per response: its pairs are taken as they are.
        response.exact = response.exact === undefined ? value.exact : mergeSortedPairs(response.exact, value.exact, MAX_EXACT_ENTRIES).pairs;
      }
    }
  }

  private scopeFor(kind: ScopeKind, shape: SeriesShape): ScopeBuilder {
    const scopes = this.scopes[kind];
    let builder = scopes.get(shape.scopeKey);
    if (builder === undefined) {
      builder = { scope: { ctx: shape.requestCtx(kind), count: 0, responses: [] }, responses: new Map() };
      scopes.set(shape.scopeKey, builder);
      this.requests.push(builder.scope);
    }
    return builder;
  }

  private responseFor(builder: ScopeBuilder, status: number): ResponseBuilder {
    let response = builder.responses.get(status);
    if (response === undefined) {
      response = { scope: { ctx: { http_status_code: status }, ends: [] }, ends: new Map(), exact: undefined };
      builder.responses.set(status, response);
      builder.scope.responses?.push(response.scope);
      this.responses.push(response);
    }
    return response;
  }

  private addTransport(family: string, shape: SeriesShape, value: number, gauge: boolean): void {
    let transport = this.transports.get(shape.transportKey);
    if (transport === undefined) {
      const report: TransportReport = { connects: 0, disconnect_count: 0, open_connections: 0, read_bytes: 0, write_bytes: 0, ...shape.transportCtx() };
      transport = { peer: shape.peer, report };
      this.transports.set(shape.transportKey, transport);
    }
    const report = transport.report;
    if (family === 'tcp_open_total') report.connects = clampU32((report.connects ?? 0) + value);
    else if (family === 'tcp_close_total') report.disconnect_count = clampU32((report.disconnect_count ?? 0) + value);
    else if (family === 'tcp_open_connections' && gauge) report.open_connections = Math.max(0, value);
    else if (family === 'tcp_read_bytes_total') report.read_bytes = (report.read_bytes ?? 0) + value;
    else if (family === 'tcp_write_bytes_total') report.write_bytes = (report.write_bytes ?? 0) + value;
  }
}

/** Builds the `ReportRequest` for one direction from what has accumulated, at once. */
export function buildReport(header: ReportHeader, pending: SeriesAccumulator, shapes = new SeriesShapes(2 * pending.maxSeries)): ReportRequest {
  const builder = new ReportBuilder(header, pending, shapes);
  runToEnd(builder.steps());
  return builder.report();
}

function clampU32(n: number): number {
  return n > U32_MAX ? U32_MAX : n < 0 ? 0 : n;
}

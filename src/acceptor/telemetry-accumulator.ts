// The proxy's unsent telemetry for one direction: worker deltas summed series by series until a report
// gets through, then turned into a `Telemetry.Report` request (proto/telemetry.proto). Its size is
// bounded by the number of series (at most `maxSeries`), not by how long the controller stays away.
import net from 'node:net';
import type {
  EosScope,
  IPAddress,
  ProcessInfo,
  ReportRequest,
  RequestScope,
  ResponseScope,
  TcpAddress,
  TransportReport,
} from '../api/telemetry-messages.ts';
import { encodeLatencyHdr } from '../telemetry/hdr-codec.ts';
import { parseLabels } from '../telemetry/label-parse.ts';
import { LATENCY_BUCKETS_MS } from '../telemetry/metrics.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';
import type { DeltaValue } from '../telemetry/report-delta.ts';

export interface PendingHistogram {
  readonly buckets: Float64Array;
  readonly exact: Map<number, number>;
}

type PendingValue = number | PendingHistogram;

const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
/** Conduit's `histogram_bucket_bounds_tenth_ms`: Linkerd's buckets in tenths of a ms, then u32::MAX. */
export const BUCKET_BOUNDS_TENTH_MS: readonly number[] = [...LATENCY_BUCKETS_MS.map((ms) => ms * 10), 0xffffffff];
const U32_MAX = 0xffffffff;

/** Distinct exact-latency values kept per accumulator (a Map entry each); past it new values are dropped. */
export const MAX_EXACT_ENTRIES = 500_000;

export class SeriesAccumulator {
  readonly maxSeries: number;
  /** Series refused because the accumulator was full (their counts are lost). */
  dropped = 0;
  /** Exact latencies left out because MAX_EXACT_ENTRIES was reached (their bucket counts are kept). */
  droppedExact = 0;
  private exactEntries = 0;
  private readonly families = new Map<string, Map<string, PendingValue>>();
  private gauges = new Map<string, Map<string, number>>();
  private size = 0;

  constructor(maxSeries: number) {
    this.maxSeries = maxSeries;
  }

  /** True when there are no counts to send (gauges alone do not count). */
  get empty(): boolean {
    return this.size === 0;
  }

  get seriesCount(): number {
    return this.size;
  }

  /** Adds a counter or histogram delta. */
  add(family: string, labels: string, value: DeltaValue): void {
    let series = this.families.get(family);
    if (series === undefined) {
      series = new Map();
      this.families.set(family, series);
    }
    const prior = series.get(labels);
    if (prior === undefined) {
      if (this.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      this.size++;
      if (typeof value === 'number') {
        series.set(labels, value);
      } else {
        const pending: PendingHistogram = { buckets: new Float64Array(BUCKETS), exact: new Map() };
        this.addHistogram(pending, value.buckets, value.exact);
        series.set(labels, pending);
      }
      return;
    }
    if (typeof prior === 'number') {
      if (typeof value === 'number') series.set(labels, prior + value);
      return;
    }
    if (typeof value === 'number') return;
    this.addHistogram(prior, value.buckets, value.exact);
  }

  private addHistogram(into: PendingHistogram, buckets: readonly number[], exact: readonly number[]): void {
    for (let i = 0; i < BUCKETS; i++) into.buckets[i] = (into.buckets[i] as number) + (buckets[i] ?? 0);
    for (let i = 0; i + 1 < exact.length; i += 2) {
      const index = exact[i] as number;
      const prior = into.exact.get(index);
      if (prior === undefined) {
        if (this.exactEntries >= MAX_EXACT_ENTRIES) {
          this.droppedExact += exact[i + 1] as number;
          continue;
        }
        this.exactEntries++;
      }
      into.exact.set(index, (prior ?? 0) + (exact[i + 1] as number));
    }
  }

  /** Replaces the gauges (current values, summed over threads by the caller). */
  setGauges(gauges: Map<string, Map<string, number>>): void {
    this.gauges = gauges;
  }

  /** Every series with its value: counters and histograms first, then gauges. */
  *entries(): Generator<readonly [family: string, labels: string, value: PendingValue, gauge: boolean]> {
    for (const [family, series] of this.families) for (const [labels, value] of series) yield [family, labels, value, false];
    for (const [family, series] of this.gauges) for (const [labels, value] of series) yield [family, labels, value, true];
  }
}

/** Which scope a family feeds: the service-level families, the route ones, or route attempts. */
type ScopeKind = 'svc' | 'route' | 'actual';
const REQUEST_FAMILIES: Readonly<Record<string, ScopeKind>> = {
  request_total: 'svc',
  route_request_total: 'route',
  route_actual_request_total: 'actual',
};
const RESPONSE_FAMILIES: Readonly<Record<string, ScopeKind>> = {
  response_total: 'svc',
  route_response_total: 'route',
  route_actual_response_total: 'actual',
};
const LATENCY_FAMILIES: Readonly<Record<string, ScopeKind>> = {
  response_latency_ms: 'svc',
  route_response_latency_ms: 'route',
  route_actual_response_latency_ms: 'actual',
};
/** Labels that split a request's series into responses; what remains identifies the request scope. */
const RESPONSE_LABELS = new Set(['status_code', 'classification', 'grpc_status', 'error']);

interface ScopeBuilder {
  readonly scope: RequestScope;
  readonly responses: Map<string, { readonly scope: ResponseScope; readonly ends: Map<string, EosScope>; exact: Map<number, number> | undefined }>;
}

export interface ReportHeader {
  readonly direction: Direction;
  readonly process: ProcessInfo;
  readonly instanceId: string;
  readonly sequence: number;
  readonly intervalMs: number;
  readonly reportIntervalMs: number;
}

/** Builds the `ReportRequest` for one direction from what has accumulated. */
export function buildReport(header: ReportHeader, pending: SeriesAccumulator): ReportRequest {
  const scopes = new Map<string, ScopeBuilder>();
  const transports = new Map<string, TransportReport & { peer: string }>();

  const scopeFor = (kind: ScopeKind, pairs: Array<[string, string]>): ScopeBuilder => {
    const base = pairs.filter(([name]) => !RESPONSE_LABELS.has(name));
    const key = `${kind}\0${base.map(([k, v]) => `${k}=${v}`).join('\0')}`;
    let builder = scopes.get(key);
    if (builder === undefined) {
      builder = { scope: { ctx: requestCtx(kind, base), count: 0, responses: [] }, responses: new Map() };
      scopes.set(key, builder);
    }
    return builder;
  };
  const responseFor = (builder: ScopeBuilder, status: number) => {
    const key = String(status);
    let response = builder.responses.get(key);
    if (response === undefined) {
      const scope: ResponseScope = { ctx: { http_status_code: status }, response_latency_counts: [], ends: [] };
      response = { scope, ends: new Map(), exact: undefined };
      builder.responses.set(key, response);
      builder.scope.responses?.push(scope);
    }
    return response;
  };

  for (const [family, labelText, value, gauge] of pending.entries()) {
    const pairs = parseLabels(labelText);
    const get = (name: string): string => pairs.find(([k]) => k === name)?.[1] ?? '';
    const requestKind = REQUEST_FAMILIES[family];
    const responseKind = RESPONSE_FAMILIES[family];
    const latencyKind = LATENCY_FAMILIES[family];
    if (requestKind !== undefined && typeof value === 'number') {
      const scope = scopeFor(requestKind, pairs).scope;
      scope.count = clampU32((scope.count ?? 0) + value);
    } else if (responseKind !== undefined && typeof value === 'number') {
      const response = responseFor(scopeFor(responseKind, pairs), Number(get('status_code')) || 0);
      const grpc = get('grpc_status');
      const classification = get('classification');
      const error = get('error');
      const endKey = `${grpc}\0${classification}\0${error}`;
      let end = response.ends.get(endKey);
      if (end === undefined) {
        const ctx = grpc !== '' ? { grpc_status_code: Number(grpc) } : { other: true };
        end = { ctx: { ...ctx, classification, error }, streams: 0 };
        response.ends.set(endKey, end);
        response.scope.ends?.push(end);
      }
      end.streams = clampU32((end.streams ?? 0) + value);
    } else if (latencyKind !== undefined && typeof value !== 'number') {
      const response = responseFor(scopeFor(latencyKind, pairs), Number(get('status_code')) || 0);
      const counts = response.scope.response_latency_counts ?? [];
      for (let i = 0; i < BUCKETS; i++) counts[i] = clampU32((counts[i] ?? 0) + (value.buckets[i] as number));
      response.scope.response_latency_counts = counts;
      if (value.exact.size > 0) {
        response.exact ??= new Map();
        for (const [index, count] of value.exact) response.exact.set(index, (response.exact.get(index) ?? 0) + count);
      }
    } else if (family.startsWith('tcp_') && typeof value === 'number') {
      const base = pairs.filter(([name]) => name !== 'errno');
      const key = base.map(([k, v]) => `${k}=${v}`).join('\0');
      let transport = transports.get(key);
      if (transport === undefined) {
        transport = { peer: get('peer'), connects: 0, disconnect_count: 0, open_connections: 0, read_bytes: 0, write_bytes: 0, ...transportCtx(base) };
        transports.set(key, transport);
      }
      if (family === 'tcp_open_total') transport.connects = clampU32((transport.connects ?? 0) + value);
      else if (family === 'tcp_close_total') transport.disconnect_count = clampU32((transport.disconnect_count ?? 0) + value);
      else if (family === 'tcp_open_connections' && gauge) transport.open_connections = Math.max(0, value);
      else if (family === 'tcp_read_bytes_total') transport.read_bytes = (transport.read_bytes ?? 0) + value;
      else if (family === 'tcp_write_bytes_total') transport.write_bytes = (transport.write_bytes ?? 0) + value;
    }
  }

  for (const builder of scopes.values()) {
    for (const response of builder.responses.values()) {
      if (response.exact !== undefined) {
        const pairs: number[] = [];
        for (const [index, count] of [...response.exact].sort((a, b) => a[0] - b[0])) pairs.push(index, count);
        response.scope.latency_hdr = encodeLatencyHdr(pairs);
      }
      if (response.scope.response_latency_counts?.length === 0) delete response.scope.response_latency_counts;
    }
  }

  const serverTransports: TransportReport[] = [];
  const clientTransports: TransportReport[] = [];
  for (const { peer, ...transport } of transports.values()) {
    if (peer === 'dst') clientTransports.push(transport);
    else serverTransports.push(transport);
  }

  return {
    process: header.process,
    proxy: header.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    server_transports: serverTransports,
    client_transports: clientTransports,
    requests: [...scopes.values()].map((b) => b.scope),
    histogram_bucket_bounds_tenth_ms: [...BUCKET_BOUNDS_TENTH_MS],
    instance_id: header.instanceId,
    sequence: header.sequence,
    interval_ms: Math.max(0, Math.round(header.intervalMs)),
    report_interval_ms: header.reportIntervalMs,
  };
}

function clampU32(n: number): number {
  return n > U32_MAX ? U32_MAX : n < 0 ? 0 : n;
}

function prefixed(pairs: Array<[string, string]>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) if (name.startsWith(prefix) && name.length > prefix.length) out[name.slice(prefix.length)] = value;
  return out;
}

function requestCtx(kind: ScopeKind, pairs: Array<[string, string]>): RequestScope['ctx'] {
  const get = (name: string): string => pairs.find(([k]) => k === name)?.[1] ?? '';
  const ctx: NonNullable<RequestScope['ctx']> = {
    // Route families name the destination `dst`; the others carry the request's `authority`.
    authority: kind === 'svc' ? get('authority') : get('dst'),
    dst_labels: prefixed(pairs, 'dst_'),
    route_scope: kind !== 'svc',
    route_labels: prefixed(pairs, 'rt_'),
    tls: get('tls'),
    actual: kind === 'actual',
  };
  addTlsPeer(ctx, get);
  const target = tcpAddress(get('target_ip'), get('target_port'));
  if (target !== undefined) ctx.target_addr = target;
  return ctx;
}

function transportCtx(pairs: Array<[string, string]>): Partial<TransportReport> {
  const get = (name: string): string => pairs.find(([k]) => k === name)?.[1] ?? '';
  const ctx: Partial<TransportReport> = { dst_labels: prefixed(pairs, 'dst_'), tls: get('tls') };
  addTlsPeer(ctx, get);
  const target = tcpAddress(get('target_ip'), get('target_port'));
  if (target !== undefined) ctx.target_addr = target;
  return ctx;
}

/** Linkerd's peer-identity labels (client_id, server_id, no_tls_reason) on a scope, only those set. */
function addTlsPeer(ctx: { client_id?: string; server_id?: string; no_tls_reason?: string }, get: (name: string) => string): void {
  const clientId = get('client_id');
  const serverId = get('server_id');
  const reason = get('no_tls_reason');
  if (clientId !== '') ctx.client_id = clientId;
  if (serverId !== '') ctx.server_id = serverId;
  if (reason !== '') ctx.no_tls_reason = reason;
}

function tcpAddress(ip: string, port: string): TcpAddress | undefined {
  const address = ipAddress(ip);
  const n = Number(port);
  if (address === undefined || !Number.isInteger(n) || n < 0 || n > 65535) return undefined;
  return { ip: address, port: n };
}

/** An IP literal as `io.linkerd.proxy.net.IPAddress`; IPv6 halves as decimal strings (exact beyond 2^53). */
export function ipAddress(text: string): IPAddress | undefined {
  const host = text.replace(/^\[|\]$/g, '');
  if (net.isIPv4(host)) {
    const [a, b, c, d] = host.split('.').map(Number) as [number, number, number, number];
    return { ipv4: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0 };
  }
  if (!net.isIPv6(host)) return undefined;
  const value = ipv6ToBigInt(host);
  return { ipv6: { first: (value >> 64n).toString(), last: (value & 0xffffffffffffffffn).toString() } };
}

function ipv6ToBigInt(text: string): bigint {
  let address = text.split('%')[0] ?? text;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  let value = 0n;
  for (const group of [...headGroups, ...zeros, ...tailGroups]) value = (value << 16n) | BigInt(parseInt(group, 16) || 0);
  return value;
}

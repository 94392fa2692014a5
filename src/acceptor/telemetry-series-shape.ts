// What a series' label string means to a telemetry report, worked out once per label string and kept:
// its direction, the request scope or transport it belongs to, its response status and end, and the
// scope's context (RequestCtx, TransportReport fields) as the report carries it. A proxy reports the same
// few series every interval, so parsing their labels again for every report (and every worker delta)
// was most of what a report cost to build.
import net from 'node:net';
import { ipv6ToBigInt } from '../config/networks.ts';
import type { IPAddress, RequestScope, TcpAddress, TransportReport } from '../api/telemetry-messages.ts';
import { parseLabels } from '../telemetry/label-parse.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';

/** Which scope a family feeds: the service-level families, the route ones, or route attempts. */
export type ScopeKind = 'svc' | 'route' | 'actual';

type Pairs = ReadonlyArray<readonly [string, string]>;
type RequestCtx = NonNullable<RequestScope['ctx']>;
/** The context fields of a transport report (everything but its counts). */
export type TransportCtx = Pick<TransportReport, 'dst_labels' | 'tls' | 'client_id' | 'server_id' | 'no_tls_reason' | 'target_addr'>;

/** Labels that split a request's series into responses; what remains identifies the request scope. */
const RESPONSE_LABELS = new Set(['status_code', 'classification', 'grpc_status', 'error']);

export class SeriesShape {
  /**
   * The label string, the first instance seen: callers key their maps with it, so that later lookups
   * compare one string with itself instead of with a fresh copy from each worker delta.
   */
  readonly labels: string;
  readonly direction: Direction | undefined;
  /** The request scope's labels (all but the response ones), joined: the scope's key within its kind. */
  readonly scopeKey: string;
  /** `status_code` as a number (0 when absent or not a number). */
  readonly status: number;
  readonly grpcStatus: string;
  readonly classification: string;
  readonly error: string;
  /** What tells a response's ends apart: gRPC status, classification, error. */
  readonly endKey: string;
  /** The transport's labels (all but `errno`), joined: the transport's key. */
  readonly transportKey: string;
  readonly peer: string;
  private readonly scopePairs: Pairs;
  private readonly transportPairs: Pairs;
  private readonly requestCtxs = new Map<ScopeKind, RequestCtx>();
  private transport: TransportCtx | undefined;

  constructor(labels: string) {
    this.labels = labels;
    const pairs = parseLabels(labels);
    const get = (name: string): string => valueOf(pairs, name);
    const direction = get('direction');
    this.direction = direction === 'inbound' || direction === 'outbound' ? direction : undefined;
    this.scopePairs = pairs.filter(([name]) => !RESPONSE_LABELS.has(name));
    this.scopeKey = joinPairs(this.scopePairs);
    this.status = Number(get('status_code')) || 0;
    this.grpcStatus = get('grpc_status');
    this.classification = get('classification');
    this.error = get('error');
    this.endKey = `${this.grpcStatus}\0${this.classification}\0${this.error}`;
    this.transportPairs = pairs.filter(([name]) => name !== 'errno');
    this.transportKey = joinPairs(this.transportPairs);
    this.peer = get('peer');
  }

  /**
   * The RequestCtx of this series' scope for `kind`. Built once and shared by every report that
   * carries the scope, so frozen: the report encoder keeps the bytes of a frozen context.
   */
  requestCtx(kind: ScopeKind): RequestCtx {
    let ctx = this.requestCtxs.get(kind);
    if (ctx === undefined) {
      ctx = deepFreeze(requestCtx(kind, this.scopePairs));
      this.requestCtxs.set(kind, ctx);
    }
    return ctx;
  }

  /** The context of this series' transport (shared and frozen, as requestCtx). */
  transportCtx(): TransportCtx {
    this.transport ??= deepFreeze(transportCtx(this.transportPairs));
    return this.transport;
  }
}

/**
 * Shapes by label string, bounded: past `max` entries the cache starts over (a proxy with more distinct
 * series than that parses some labels again, as it did before there was a cache).
 */
export class SeriesShapes {
  private readonly max: number;
  private readonly shapes = new Map<string, SeriesShape>();

  constructor(max: number) {
    this.max = max;
  }

  of(labels: string): SeriesShape {
    let shape = this.shapes.get(labels);
    if (shape === undefined) {
      if (this.shapes.size >= this.max) this.shapes.clear();
      shape = new SeriesShape(labels);
      this.shapes.set(labels, shape);
    }
    return shape;
  }

  get size(): number {
    return this.shapes.size;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null) deepFreeze(inner);
  return Object.freeze(value);
}

function valueOf(pairs: Pairs, name: string): string {
  for (const [k, v] of pairs) if (k === name) return v;
  return '';
}

function joinPairs(pairs: Pairs): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join('\0');
}

function prefixed(pairs: Pairs, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) if (name.startsWith(prefix) && name.length > prefix.length) out[name.slice(prefix.length)] = value;
  return out;
}

function requestCtx(kind: ScopeKind, pairs: Pairs): RequestCtx {
  const get = (name: string): string => valueOf(pairs, name);
  const ctx: RequestCtx = {
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

function transportCtx(pairs: Pairs): TransportCtx {
  const get = (name: string): string => valueOf(pairs, name);
  const ctx: TransportCtx = { dst_labels: prefixed(pairs, 'dst_'), tls: get('tls') };
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

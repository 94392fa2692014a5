// The proxy's metric families, with Linkerd's names and labels (wire-facts §3), and small per-target
// handles that the request and connection paths hold so that counting costs a field increment.
import type { HostPort } from '../config/parse.ts';
import { formatHostPort } from '../config/parse.ts';
import { Counter, Histogram, Registry, joinLabels, labels, type Family } from './metrics.ts';

export type Direction = 'inbound' | 'outbound';
export type Peer = 'src' | 'dst';

// The `tls` labels of a connection or request, as Linkerd's proxy writes them (wire-facts §3.2).
/** The proxy holds no identity: everything is plain TCP. */
export const TLS_DISABLED = 'tls="disabled"';
/** Inbound, the proxy has an identity but the client spoke plaintext (or TLS not addressed to us). */
export const TLS_NOT_FROM_REMOTE = 'tls="no_identity",no_tls_reason="no_tls_from_remote"';
/** Outbound, the proxy has an identity but the endpoint has none (outside the mesh, or not discovered). */
export const TLS_NOT_DISCOVERED = 'tls="no_identity",no_tls_reason="not_provided_by_service_discovery"';
/** Outbound, the application's own connection to its sidecar. */
export const TLS_LOOPBACK = 'tls="no_identity",no_tls_reason="loopback"';
/** Inbound mesh TLS from a client that presented no certificate (unauthenticated). */
export const TLS_NO_CLIENT_ID = 'tls="true"';

/** Inbound mesh TLS: `tls="true",client_id="<verified identity>"`. */
export function clientTlsLabels(clientId: string | undefined): string {
  return clientId === undefined ? TLS_NO_CLIENT_ID : labels({ tls: 'true', client_id: clientId });
}

/** Outbound mesh TLS: `tls="true",server_id="<identity the endpoint proved>"`. */
export function serverTlsLabels(serverId: string): string {
  return labels({ tls: 'true', server_id: serverId });
}
const NO_GRPC_STATUS = -1;

export function targetLabels(target: HostPort | undefined): string {
  if (target === undefined) return labels({ target_addr: '', target_ip: '', target_port: '' });
  return labels({ target_addr: formatHostPort(target), target_ip: target.host, target_port: target.port });
}

export class HttpStats {
  private readonly metrics: ProxyMetrics;
  private readonly base: string;
  private readonly requests: Counter;
  /**
   * Keyed by (status * 32 + grpc status 0–30, or 31 for none) * 3 + the classification given (0 none, 1
   * success, 2 failure), so that the common path, a profile route's classified responses included,
   * builds no string.
   */
  private readonly responses = new Map<number, Counter>();
  /** Everything else (proxy errors, grpc statuses the numeric key cannot hold) by a string key. */
  private readonly errors = new Map<string, Counter>();
  private readonly latency = new Map<number, Histogram>();

  constructor(metrics: ProxyMetrics, base: string) {
    this.metrics = metrics;
    this.base = base;
    this.requests = metrics.requestTotal.get(base);
  }

  request(): void {
    this.requests.inc();
  }

  /**
   * Counts one finished response. `grpcStatus` is -1 when the response carried none; `error` names a
   * proxy-synthesized failure (e.g. `connect_refused`) and makes the response a failure. `failed`, when
   * given, is the classification of a profile route's response classes instead of the default one.
   */
  response(status: number, grpcStatus: number, latencyMs: number, error = '', failed?: boolean): void {
    let counter: Counter | undefined;
    const numericKey = error === '' && Number.isInteger(status) && (grpcStatus === NO_GRPC_STATUS || (Number.isInteger(grpcStatus) && grpcStatus >= 0 && grpcStatus < 31));
    if (numericKey) {
      const key = (status * 32 + (grpcStatus === NO_GRPC_STATUS ? 31 : grpcStatus)) * 3 + (failed === undefined ? 0 : failed ? 2 : 1);
      counter = this.responses.get(key);
      if (counter === undefined) {
        counter = this.metrics.responseTotal.get(this.responseLabels(status, grpcStatus, '', failed));
        this.responses.set(key, counter);
      }
    } else {
      const key = `${status}|${grpcStatus}|${error}|${failed ?? ''}`;
      counter = this.errors.get(key);
      if (counter === undefined) {
        counter = this.metrics.responseTotal.get(this.responseLabels(status, grpcStatus, error, failed));
        this.errors.set(key, counter);
      }
    }
    counter.inc();
    let histogram = this.latency.get(status);
    if (histogram === undefined) {
      histogram = this.metrics.responseLatency.get(joinLabels(this.base, `status_code="${status}"`));
      this.latency.set(status, histogram);
    }
    histogram.observe(latencyMs);
  }

  private responseLabels(status: number, grpcStatus: number, error: string, classified?: boolean): string {
    const failed = error !== '' || (classified ?? (grpcStatus === NO_GRPC_STATUS ? status >= 500 : grpcStatus !== 0));
    return joinLabels(
      this.base,
      labels({
        status_code: status,
        classification: failed ? 'failure' : 'success',
        grpc_status: grpcStatus === NO_GRPC_STATUS ? '' : grpcStatus,
        error,
      }),
    );
  }
}

export class TcpStats {
  readonly opened: Counter;
  readonly open: Counter;
  readonly readBytes: Counter;
  readonly writeBytes: Counter;
  private readonly metrics: ProxyMetrics;
  private readonly base: string;
  private readonly closes = new Map<string, Counter>();

  constructor(metrics: ProxyMetrics, base: string) {
    this.metrics = metrics;
    this.base = base;
    this.opened = metrics.tcpOpenTotal.get(base);
    this.open = metrics.tcpOpenConnections.get(base);
    this.readBytes = metrics.tcpReadBytes.get(base);
    this.writeBytes = metrics.tcpWriteBytes.get(base);
  }

  closed(errno: string): void {
    let counter = this.closes.get(errno);
    if (counter === undefined) {
      counter = this.metrics.tcpCloseTotal.get(joinLabels(this.base, labels({ errno })));
      this.closes.set(errno, counter);
    }
    counter.inc();
  }
}

/**
 * Distinct values a label may take in one thread before new ones are counted under OVERFLOW_VALUE: a
 * client sending endless distinct authorities (or SNIs, or destinations) must not grow memory without
 * limit. Past the budget, requests are still counted, only not per value; `metric_label_overflow_total`
 * says how often that happened.
 */
export const LABEL_VALUE_BUDGET = 1000;
export const OVERFLOW_VALUE = '__overflow__';

export class LabelBudget {
  private readonly seen = new Set<string>();
  private readonly limit: number;
  overflows = 0;

  constructor(limit = LABEL_VALUE_BUDGET) {
    this.limit = limit;
  }

  admit(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) {
      this.overflows++;
      return OVERFLOW_VALUE;
    }
    this.seen.add(value);
    return value;
  }
}

export class ProxyMetrics {
  readonly registry = new Registry();
  /** Per label a client controls: the authority, the SNI, the target address. */
  private readonly authorities = new LabelBudget();
  private readonly snis = new LabelBudget();
  private readonly targets = new LabelBudget();
  readonly labelOverflow = this.registry.counter('metric_label_overflow_total', 'Label values counted under __overflow__ because a label had too many distinct values.');
  readonly requestTotal = this.registry.counter('request_total', 'Total count of HTTP requests.');
  readonly responseTotal = this.registry.counter('response_total', 'Total count of HTTP responses.');
  readonly responseLatency = this.registry.histogram(
    'response_latency_ms',
    'Elapsed times between a request being sent and its response headers arriving, in milliseconds.',
  );
  readonly tcpOpenTotal = this.registry.counter('tcp_open_total', 'Total count of opened connections.');
  readonly tcpCloseTotal = this.registry.counter('tcp_close_total', 'Total count of closed connections.');
  readonly tcpOpenConnections = this.registry.gauge('tcp_open_connections', 'Number of currently-open connections.');
  readonly tcpReadBytes = this.registry.counter('tcp_read_bytes_total', 'Total count of bytes read from peers.');
  readonly tcpWriteBytes = this.registry.counter('tcp_write_bytes_total', 'Total count of bytes written to peers.');
  readonly detectTotal = this.registry.counter(
    'protocol_detect_total',
    'Outcomes of protocol detection on accepted connections (protocol, and why a connection is opaque).',
  );
  readonly httpErrors: Readonly<Record<Direction, Family<Counter>>> = {
    inbound: this.registry.counter('inbound_http_errors_total', 'Inbound HTTP requests the proxy failed.'),
    outbound: this.registry.counter('outbound_http_errors_total', 'Outbound HTTP requests the proxy failed.'),
  };

  readonly tlsPassthroughTotal = this.registry.counter(
    'tls_passthrough_total',
    'TLS connections not terminated by the proxy and forwarded untouched, by the SNI their client sent.',
  );

  /** Handles by request key (bounded), and by label set (bounded by the label budgets). */
  private readonly httpCache = new Map<string, HttpStats>();
  private readonly httpByBase = new Map<string, HttpStats>();
  private readonly tcpCache = new Map<string, TcpStats>();
  private readonly tcpByBase = new Map<string, TcpStats>();

  /**
   * Per target object (endpoints and routed addresses are long-lived objects), the handle for each
   * authority: found without building a key string, which the request path would pay for every time.
   */
  private readonly httpByTarget: Readonly<Record<Direction, WeakMap<HostPort, Map<string, { dst: string; tls: string; stats: HttpStats }>>>> = {
    inbound: new WeakMap(),
    outbound: new WeakMap(),
  };

  /**
   * `dst` adds an outbound endpoint's `dst_*` labels (preformatted), from the Destination service; `tls`
   * is one of the TLS label sets above (the connection's inbound, the endpoint's outbound).
   */
  http(direction: Direction, authority: string, target: HostPort | undefined, dst = '', tls = TLS_DISABLED): HttpStats {
    if (target === undefined) return this.httpByKey(direction, authority, target, dst, tls);
    let byAuthority = this.httpByTarget[direction].get(target);
    const hit = byAuthority?.get(authority);
    if (hit !== undefined && hit.dst === dst && hit.tls === tls) return hit.stats;
    const stats = this.httpByKey(direction, authority, target, dst, tls);
    if (byAuthority === undefined) this.httpByTarget[direction].set(target, (byAuthority = new Map()));
    // As bounded as the key cache: a flood of authorities on one target stops being remembered here.
    if (byAuthority.size < LABEL_VALUE_BUDGET) byAuthority.set(authority, { dst, tls, stats });
    return stats;
  }

  private httpByKey(direction: Direction, authority: string, target: HostPort | undefined, dst: string, tls: string): HttpStats {
    const key = `${direction}\0${authority}\0${target === undefined ? '' : formatHostPort(target)}\0${dst}\0${tls}`;
    let stats = this.httpCache.get(key);
    if (stats === undefined) {
      // A new series: bounded per label value (the cache key then maps to an overflow series).
      const boundedAuthority = this.bounded(this.authorities, 'authority', authority);
      const boundedTarget = this.boundedTarget(target);
      const base = joinLabels(joinLabels(joinLabels(labels({ direction, authority: boundedAuthority }), boundedTarget), tls), dst);
      stats = this.httpByBase.get(base) ?? new HttpStats(this, base);
      this.httpByBase.set(base, stats);
      if (this.httpCache.size < 4 * LABEL_VALUE_BUDGET) this.httpCache.set(key, stats);
    }
    return stats;
  }

  /** `dst`: an outbound endpoint's `dst_*` labels (preformatted), as on its HTTP series. */
  tcp(direction: Direction, peer: Peer, target: HostPort | undefined, tls = TLS_DISABLED, dst = ''): TcpStats {
    const key = `${direction}\0${peer}\0${target === undefined ? '' : formatHostPort(target)}\0${tls}\0${dst}`;
    let stats = this.tcpCache.get(key);
    if (stats === undefined) {
      const base = joinLabels(joinLabels(joinLabels(labels({ direction, peer }), this.boundedTarget(target)), tls), dst);
      stats = this.tcpByBase.get(base) ?? new TcpStats(this, base);
      this.tcpByBase.set(base, stats);
      if (this.tcpCache.size < 4 * LABEL_VALUE_BUDGET) this.tcpCache.set(key, stats);
    }
    return stats;
  }

  detected(direction: Direction, protocol: string, reason: string): void {
    this.detectTotal.get(labels({ direction, protocol, reason })).inc();
  }

  tlsPassthrough(direction: Direction, sni: string): void {
    this.tlsPassthroughTotal.get(labels({ direction, sni: this.bounded(this.snis, 'sni', sni) })).inc();
  }

  private bounded(budget: LabelBudget, label: string, value: string): string {
    const admitted = budget.admit(value);
    if (admitted === OVERFLOW_VALUE) this.labelOverflow.get(labels({ label })).inc();
    return admitted;
  }

  private boundedTarget(target: HostPort | undefined): string {
    if (target === undefined) return targetLabels(undefined);
    const addr = formatHostPort(target);
    return this.bounded(this.targets, 'target_addr', addr) === OVERFLOW_VALUE
      ? labels({ target_addr: OVERFLOW_VALUE, target_ip: OVERFLOW_VALUE, target_port: OVERFLOW_VALUE })
      : targetLabels(target);
  }

  httpError(direction: Direction, error: string): void {
    this.httpErrors[direction].get(labels({ error })).inc();
  }
}

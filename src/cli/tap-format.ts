// Pure formatting for `sluice tap` and `sluice top`, from TapEvents as the public API sends them
// (HTTP/JSON with every field, or grpc-js objects: either way snake_case, oneof cases named, uint64 as
// numbers or decimal strings).
//
// `tap` lines follow Linkerd's grammar (wire-facts §4.2):
//   req id=<base>:<stream> proxy=<in |out> src=<ip:port> dst=<ip:port> tls=<tls> :method=<M> :authority=<A> :path=<P>
//   rsp id=… proxy=… src=… dst=… tls=… :status=<code> latency=<µs>µs
//   end id=… proxy=… src=… dst=… tls=… grpc-status=<Name> duration=<µs>µs response-length=<n>B
//   end id=… … reset-error=<h2 code> duration=<µs>µs response-length=<n>B
//   end id=… … duration=<µs>µs response-length=<n>B
// with `-o wide` appending the sorted labels of each side and of the route as src_<k>=<v>, dst_<k>=<v>,
// rt_<k>=<v>. `top` aggregates completed requests by source, destination, method and path.
import { formatIp, formatTcpAddress, type TcpAddressLike } from '../api/net-address.ts';

type Maybe<T> = T | null | undefined;
type Labels = Maybe<Readonly<Record<string, string>>>;

export interface DurationJson {
  seconds?: Maybe<number | string>;
  nanos?: Maybe<number>;
}

export interface HeaderJson {
  name?: Maybe<string>;
  /** bytes: base64 in JSON, a Buffer from grpc-js. */
  value?: Maybe<string | Uint8Array>;
}

interface NamedOneof {
  registered?: Maybe<string>;
  unregistered?: Maybe<string>;
}

interface StreamIdJson {
  base?: Maybe<number | string>;
  stream?: Maybe<number | string>;
}

export interface TapEventJson {
  source?: Maybe<TcpAddressLike>;
  source_meta?: Maybe<{ labels?: Labels }>;
  destination?: Maybe<TcpAddressLike>;
  destination_meta?: Maybe<{ labels?: Labels }>;
  route_meta?: Maybe<{ labels?: Labels }>;
  proxy_direction?: Maybe<string>;
  http?: Maybe<{
    request_init?: Maybe<{
      id?: Maybe<StreamIdJson>;
      method?: Maybe<NamedOneof>;
      scheme?: Maybe<NamedOneof>;
      authority?: Maybe<string>;
      path?: Maybe<string>;
      headers?: Maybe<{ headers?: Maybe<HeaderJson[]> }>;
    }>;
    response_init?: Maybe<{
      id?: Maybe<StreamIdJson>;
      since_request_init?: Maybe<DurationJson>;
      http_status?: Maybe<number>;
      headers?: Maybe<{ headers?: Maybe<HeaderJson[]> }>;
    }>;
    response_end?: Maybe<{
      id?: Maybe<StreamIdJson>;
      since_request_init?: Maybe<DurationJson>;
      since_response_init?: Maybe<DurationJson>;
      response_bytes?: Maybe<number | string>;
      eos?: Maybe<{ grpc_status_code?: Maybe<number>; reset_error_code?: Maybe<number> }>;
      trailers?: Maybe<{ headers?: Maybe<HeaderJson[]> }>;
    }>;
  }>;
}

/** gRPC status names as Go's `codes.Code.String()` prints them (Linkerd's CLI is written in Go). */
const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `Code(${code})`;
}

/** Whole microseconds of a Duration (truncated, as Go's Duration.Microseconds()). */
export function micros(d: Maybe<DurationJson>): number {
  if (d === null || d === undefined) return 0;
  return Number(d.seconds ?? 0) * 1_000_000 + Math.trunc(Number(d.nanos ?? 0) / 1000);
}

function num(value: Maybe<number | string>): number {
  return value === null || value === undefined ? 0 : Number(value);
}

/** A uint64 as text: decimal strings stay exact (grpc-js with longs as strings). */
function uint(value: Maybe<number | string>): string {
  return value === null || value === undefined ? '0' : String(value);
}

function id(value: Maybe<StreamIdJson>): string {
  return `${uint(value?.base)}:${uint(value?.stream)}`;
}

function methodName(method: Maybe<NamedOneof>): string {
  return method?.registered ?? method?.unregistered ?? '';
}

export type EventKind = 'request_init' | 'response_init' | 'response_end';

/** Which event a TapEvent carries, or undefined. */
export function eventKind(event: TapEventJson): EventKind | undefined {
  const http = event.http;
  if (http === null || http === undefined) return undefined;
  if (http.request_init) return 'request_init';
  if (http.response_init) return 'response_init';
  if (http.response_end) return 'response_end';
  return undefined;
}

/** The id `base:stream` of an event's request. */
export function streamKey(event: TapEventJson): string | undefined {
  const http = event.http;
  const body = http?.request_init ?? http?.response_init ?? http?.response_end;
  return body === null || body === undefined ? undefined : id(body.id);
}

function labelsOf(meta: Maybe<{ labels?: Labels }>): Readonly<Record<string, string>> {
  return meta?.labels ?? {};
}

function wideTokens(event: TapEventJson): string {
  const tokens: string[] = [];
  const add = (prefix: string, labels: Readonly<Record<string, string>>): void => {
    for (const key of Object.keys(labels).sort()) tokens.push(` ${prefix}_${key}=${labels[key]}`);
  };
  add('src', labelsOf(event.source_meta));
  add('dst', labelsOf(event.destination_meta));
  add('rt', labelsOf(event.route_meta));
  return tokens.join('');
}

/** One `tap` line (without newline); `wide` appends the labels. */
export function formatTapLine(event: TapEventJson, wide = false): string {
  const direction = event.proxy_direction;
  const inbound = direction === 'INBOUND';
  const outbound = direction === 'OUTBOUND';
  // The peer's TLS: the client's for inbound traffic, the server's for outbound.
  const tls = inbound ? (labelsOf(event.source_meta)['tls'] ?? '') : outbound ? (labelsOf(event.destination_meta)['tls'] ?? '') : '';
  const proxy = inbound ? 'in ' : outbound ? 'out' : '???';
  const flow = `proxy=${proxy} src=${formatTcpAddress(event.source)} dst=${formatTcpAddress(event.destination)} tls=${tls}`;
  const extra = wide ? wideTokens(event) : '';
  const http = event.http;
  if (http?.request_init) {
    const r = http.request_init;
    return `req id=${id(r.id)} ${flow} :method=${methodName(r.method)} :authority=${r.authority ?? ''} :path=${r.path ?? ''}${extra}`;
  }
  if (http?.response_init) {
    const r = http.response_init;
    return `rsp id=${id(r.id)} ${flow} :status=${num(r.http_status)} latency=${micros(r.since_request_init)}µs${extra}`;
  }
  if (http?.response_end) {
    const r = http.response_end;
    const tail = `duration=${micros(r.since_response_init)}µs response-length=${uint(r.response_bytes)}B${extra}`;
    const grpc = r.eos?.grpc_status_code;
    const reset = r.eos?.reset_error_code;
    if (grpc !== null && grpc !== undefined) return `end id=${id(r.id)} ${flow} grpc-status=${grpcCodeName(grpc)} ${tail}`;
    if (reset !== null && reset !== undefined) return `end id=${id(r.id)} ${flow} reset-error=${reset} ${tail}`;
    return `end id=${id(r.id)} ${flow} ${tail}`;
  }
  return `unknown ${flow}`;
}

function headerValue(value: Maybe<string | Uint8Array>, fromJson: boolean): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return fromJson ? Buffer.from(value, 'base64').toString('utf8') : value;
  return Buffer.from(value).toString('utf8');
}

function headersJson(headers: Maybe<{ headers?: Maybe<HeaderJson[]> }>, fromJson: boolean): Array<{ name: string; value: string }> | undefined {
  const list = headers?.headers;
  if (list === null || list === undefined) return undefined;
  return list.map((h) => ({ name: h.name ?? '', value: headerValue(h.value, fromJson) }));
}

function peerJson(address: Maybe<TcpAddressLike>, meta: Maybe<{ labels?: Labels }>): Record<string, unknown> {
  return { ip: formatIp(address?.ip), port: num(address?.port), metadata: { ...labelsOf(meta) } };
}

/**
 * One event as `-o json` prints it (Linkerd 2.6+ keys): source, destination, routeMeta, proxyDirection
 * and one of requestInitEvent, responseInitEvent, responseEndEvent; headers decoded as text.
 * `fromJson`: header values are base64 (the HTTP/JSON API) rather than bytes.
 */
export function tapEventJson(event: TapEventJson, fromJson = true): Record<string, unknown> {
  const out: Record<string, unknown> = {
    source: peerJson(event.source, event.source_meta),
    destination: peerJson(event.destination, event.destination_meta),
    routeMeta: event.route_meta?.labels ? { ...event.route_meta.labels } : null,
    proxyDirection: event.proxy_direction ?? 'UNKNOWN',
  };
  const http = event.http;
  const streamId = (value: Maybe<StreamIdJson>): Record<string, number> => ({ base: num(value?.base), stream: num(value?.stream) });
  if (http?.request_init) {
    const r = http.request_init;
    out['requestInitEvent'] = {
      id: streamId(r.id),
      method: methodName(r.method),
      scheme: r.scheme?.registered?.toLowerCase() ?? r.scheme?.unregistered ?? '',
      authority: r.authority ?? '',
      path: r.path ?? '',
      headers: headersJson(r.headers, fromJson) ?? [],
    };
  } else if (http?.response_init) {
    const r = http.response_init;
    out['responseInitEvent'] = {
      id: streamId(r.id),
      sinceRequestInit: { micros: micros(r.since_request_init) },
      httpStatus: num(r.http_status),
      headers: headersJson(r.headers, fromJson) ?? [],
    };
  } else if (http?.response_end) {
    const r = http.response_end;
    const end: Record<string, unknown> = {
      id: streamId(r.id),
      sinceRequestInit: { micros: micros(r.since_request_init) },
      sinceResponseInit: { micros: micros(r.since_response_init) },
      responseBytes: num(r.response_bytes),
      trailers: headersJson(r.trailers, fromJson) ?? [],
    };
    if (r.eos?.grpc_status_code !== null && r.eos?.grpc_status_code !== undefined) end['grpcStatusCode'] = r.eos.grpc_status_code;
    if (r.eos?.reset_error_code !== null && r.eos?.reset_error_code !== undefined) end['resetErrorCode'] = r.eos.reset_error_code;
    out['responseEndEvent'] = end;
  }
  return out;
}

// ── top ──

export interface TopRow {
  readonly source: string;
  readonly destination: string;
  readonly method: string;
  readonly path: string;
  count: number;
  /** Microseconds, from request init to response end. */
  best: number;
  worst: number;
  last: number;
  successes: number;
  failures: number;
}

interface Pending {
  readonly init: TapEventJson;
  status: number;
}

/** gRPC codes Linkerd's `top` counts as failures (the rest are the application's answers). */
const GRPC_FAILURES = new Set([2, 4, 13, 14, 15]);

/** The pod's name when the event says, else the address without its port. */
function peerName(address: Maybe<TcpAddressLike>, meta: Maybe<{ labels?: Labels }>): string {
  const pod = labelsOf(meta)['pod'];
  return pod !== undefined && pod !== '' ? pod : formatIp(address?.ip);
}

/**
 * `top`'s table: requests grouped by source, destination, method and path, counted when they end.
 * Feed it every event with `add`; `rows()` is sorted by count (most first), then by path.
 */
export class TopTable {
  private readonly pending = new Map<string, Pending>();
  private readonly table = new Map<string, TopRow>();
  /** Requests seen starting; bounded, so a stream whose ends were never seen does not grow without end. */
  private static readonly MAX_PENDING = 10_000;

  add(event: TapEventJson): void {
    const key = streamKey(event);
    if (key === undefined) return;
    const http = event.http;
    if (http?.request_init) {
      if (this.pending.size >= TopTable.MAX_PENDING) {
        const oldest = this.pending.keys().next().value;
        if (oldest !== undefined) this.pending.delete(oldest);
      }
      this.pending.set(key, { init: event, status: 0 });
      return;
    }
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    if (http?.response_init) {
      pending.status = num(http.response_init.http_status);
      return;
    }
    const end = http?.response_end;
    if (!end) return;
    this.pending.delete(key);
    const init = pending.init.http?.request_init;
    const source = peerName(pending.init.source, pending.init.source_meta);
    const destination = peerName(pending.init.destination, pending.init.destination_meta);
    const method = methodName(init?.method);
    const path = init?.path ?? '';
    const rowKey = JSON.stringify([source, destination, method, path]);
    const latency = micros(end.since_request_init);
    const grpc = end.eos?.grpc_status_code;
    const reset = end.eos?.reset_error_code;
    const success =
      pending.status > 0 && pending.status < 500 && (reset === null || reset === undefined) && (grpc === null || grpc === undefined || !GRPC_FAILURES.has(grpc));
    let row = this.table.get(rowKey);
    if (row === undefined) {
      row = { source, destination, method, path, count: 0, best: latency, worst: latency, last: latency, successes: 0, failures: 0 };
      this.table.set(rowKey, row);
    }
    row.count++;
    row.best = Math.min(row.best, latency);
    row.worst = Math.max(row.worst, latency);
    row.last = latency;
    if (success) row.successes++;
    else row.failures++;
  }

  rows(): TopRow[] {
    return [...this.table.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path) || a.source.localeCompare(b.source));
  }
}

/** Go's Duration.String() of a latency rounded as Linkerd's `top` shows it: `850µs`, `12ms`, `1.5s`. */
export function formatTopLatency(us: number): string {
  if (Math.round(us) < 1000) return `${Math.round(us)}µs`;
  const ms = Math.round(us / 1000);
  if (ms < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

export const TOP_HEADERS = ['Source', 'Destination', 'Method', 'Path', 'Count', 'Best', 'Worst', 'Last', 'Success Rate'] as const;

/**
 * The table as text, columns two spaces apart (Linkerd's `top` layout), the first `limit` rows; the
 * Source column is left out with `hideSources`. Paths longer than `maxPath` are cut with `…`.
 */
export function renderTop(rows: readonly TopRow[], options: { hideSources?: boolean; limit?: number; maxPath?: number } = {}): string {
  const cut = (text: string, max: number | undefined): string => (max !== undefined && text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text);
  const headers: string[] = options.hideSources === true ? TOP_HEADERS.slice(1) : [...TOP_HEADERS];
  const shown = options.limit === undefined ? rows : rows.slice(0, options.limit);
  const cells = shown.map((row) => {
    const total = row.successes + row.failures;
    const line = [
      row.destination,
      row.method,
      cut(row.path, options.maxPath),
      String(row.count),
      formatTopLatency(row.best),
      formatTopLatency(row.worst),
      formatTopLatency(row.last),
      total === 0 ? '-' : `${((100 * row.successes) / total).toFixed(2)}%`,
    ];
    return options.hideSources === true ? line : [row.source, ...line];
  });
  const numeric = new Set(['Count', 'Best', 'Worst', 'Last', 'Success Rate']);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const render = (values: readonly string[]): string =>
    values
      .map((v, i) => (numeric.has(headers[i] as string) ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...cells.map(render)].join('\n') + '\n';
}

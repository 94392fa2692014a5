// Tap: the page's request (resource and filters, as URL query parameters) into the public API's
// TapByResourceRequest, and each TapEvent the public API streams into the flat shape the page shows.
import type { TapEventView } from '../../api/dashboard-messages.ts';
import { formatTcpAddress, type TcpAddressLike } from '../../api/net-address.ts';

type Maybe<T> = T | null | undefined;
type Labels = Maybe<Readonly<Record<string, string>>>;
interface HeadersJson {
  headers?: Maybe<Array<{ name?: Maybe<string>; value?: Maybe<string> }>>;
}
interface StreamId {
  base?: Maybe<number | string>;
  stream?: Maybe<number | string>;
}
interface DurationJson {
  seconds?: Maybe<number | string>;
  nanos?: Maybe<number>;
}

/** The public API's TapEvent as HTTP/JSON (proto field names, bytes as base64). */
export interface TapEventJson {
  source?: Maybe<TcpAddressLike>;
  source_meta?: Maybe<{ labels?: Labels }>;
  destination?: Maybe<TcpAddressLike>;
  destination_meta?: Maybe<{ labels?: Labels }>;
  route_meta?: Maybe<{ labels?: Labels }>;
  proxy_direction?: Maybe<string>;
  http?: Maybe<{
    request_init?: Maybe<{
      id?: Maybe<StreamId>;
      method?: Maybe<{ registered?: Maybe<string>; unregistered?: Maybe<string> }>;
      scheme?: Maybe<{ registered?: Maybe<string>; unregistered?: Maybe<string> }>;
      authority?: Maybe<string>;
      path?: Maybe<string>;
      headers?: Maybe<HeadersJson>;
    }>;
    response_init?: Maybe<{ id?: Maybe<StreamId>; since_request_init?: Maybe<DurationJson>; http_status?: Maybe<number>; headers?: Maybe<HeadersJson> }>;
    response_end?: Maybe<{
      id?: Maybe<StreamId>;
      since_request_init?: Maybe<DurationJson>;
      since_response_init?: Maybe<DurationJson>;
      response_bytes?: Maybe<number | string>;
      eos?: Maybe<{ grpc_status_code?: Maybe<number>; reset_error_code?: Maybe<number> }>;
      trailers?: Maybe<HeadersJson>;
    }>;
  }>;
}

export class TapQueryError extends Error {
  override name = 'TapQueryError';
}

/** Types whose pods can be tapped (as `sluice tap` allows). */
const TAPPABLE = new Set(['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'replicaset', 'pod', 'namespace']);
const DEFAULT_MAX_RPS = 100;
const MAX_MAX_RPS = 1000;

/** `?type=deployment&namespace=emojivoto&name=web&method=GET&path=/api&authority=…&maxRps=50` → TapByResourceRequest. */
export function tapRequestOf(query: URLSearchParams): object {
  const type = query.get('type') ?? '';
  const name = query.get('name') ?? '';
  const namespace = query.get('namespace') ?? '';
  if (!TAPPABLE.has(type)) throw new TapQueryError(`cannot tap a "${type}": expected one of ${[...TAPPABLE].join(', ')}`);
  if (type !== 'namespace' && namespace === '') throw new TapQueryError('namespace is required');
  const matches: object[] = [];
  for (const key of ['method', 'path', 'authority'] as const) {
    const value = (query.get(key) ?? '').trim();
    if (value !== '') matches.push({ http: { [key]: key === 'method' ? value.toUpperCase() : value } });
  }
  const maxRpsText = query.get('maxRps');
  const maxRps = maxRpsText === null || maxRpsText === '' ? DEFAULT_MAX_RPS : Number(maxRpsText);
  if (!Number.isFinite(maxRps) || maxRps <= 0 || maxRps > MAX_MAX_RPS) throw new TapQueryError(`maxRps must be a number in (0, ${MAX_MAX_RPS}], not "${maxRpsText}"`);
  const request: Record<string, unknown> = { target: { resource: { namespace, type, name }, label_selector: '' }, maxRps, extract: { http: { headers: {} } } };
  if (matches.length > 0) request['match'] = { all: { matches } };
  return request;
}

const GRPC_CODE_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

function micros(d: Maybe<DurationJson>): number {
  if (d === null || d === undefined) return 0;
  return Number(d.seconds ?? 0) * 1_000_000 + Math.trunc(Number(d.nanos ?? 0) / 1000);
}

function idOf(id: Maybe<StreamId>): string {
  return `${String(id?.base ?? 0)}:${String(id?.stream ?? 0)}`;
}

/** `deployment/web` from a proxy's labels (Linkerd's `deployment=web`, or `pod=…`), '' when none. */
export function resourceOfLabels(labels: Readonly<Record<string, string>>): string {
  for (const kind of ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller']) {
    const name = labels[kind];
    if (name !== undefined && name !== '') return `${kind}/${name}`;
  }
  const pod = labels['pod'];
  return pod !== undefined && pod !== '' ? `pod/${pod}` : '';
}

function decodeHeaders(headers: Maybe<HeadersJson>): Array<{ name: string; value: string }> | undefined {
  const list = headers?.headers;
  if (list === null || list === undefined) return undefined;
  return list.map((h) => ({ name: h.name ?? '', value: Buffer.from(h.value ?? '', 'base64').toString('utf8') }));
}

/** The page's view of one event, or undefined for an event that carries no HTTP part. */
export function tapEventView(event: TapEventJson): TapEventView | undefined {
  const sourceLabels = { ...(event.source_meta?.labels ?? {}) };
  const destinationLabels = { ...(event.destination_meta?.labels ?? {}) };
  const direction = event.proxy_direction === 'INBOUND' ? 'inbound' : event.proxy_direction === 'OUTBOUND' ? 'outbound' : 'unknown';
  const base = {
    direction,
    source: formatTcpAddress(event.source),
    destination: formatTcpAddress(event.destination),
    sourceResource: resourceOfLabels(sourceLabels),
    destinationResource: resourceOfLabels(destinationLabels),
    // The peer's TLS: the client's for inbound traffic, the server's for outbound.
    tls: (direction === 'inbound' ? sourceLabels['tls'] : destinationLabels['tls']) ?? '',
    sourceLabels,
    destinationLabels,
    routeLabels: { ...(event.route_meta?.labels ?? {}) },
  } as const;
  const http = event.http;
  if (http?.request_init) {
    const r = http.request_init;
    const headers = decodeHeaders(r.headers);
    return {
      ...base,
      id: idOf(r.id),
      kind: 'request',
      method: r.method?.registered ?? r.method?.unregistered ?? '',
      scheme: r.scheme?.registered?.toLowerCase() ?? r.scheme?.unregistered ?? '',
      authority: r.authority ?? '',
      path: r.path ?? '',
      ...(headers === undefined ? {} : { headers }),
    };
  }
  if (http?.response_init) {
    const r = http.response_init;
    const headers = decodeHeaders(r.headers);
    return { ...base, id: idOf(r.id), kind: 'response', status: Number(r.http_status ?? 0), latencyUs: micros(r.since_request_init), ...(headers === undefined ? {} : { headers }) };
  }
  if (http?.response_end) {
    const r = http.response_end;
    const grpc = r.eos?.grpc_status_code;
    const reset = r.eos?.reset_error_code;
    const trailers = decodeHeaders(r.trailers);
    return {
      ...base,
      id: idOf(r.id),
      kind: 'end',
      durationUs: micros(r.since_response_init),
      responseBytes: Number(r.response_bytes ?? 0),
      ...(grpc === null || grpc === undefined ? {} : { grpcStatus: GRPC_CODE_NAMES[grpc] ?? `Code(${grpc})` }),
      ...(reset === null || reset === undefined ? {} : { resetCode: reset }),
      ...(trailers === undefined ? {} : { headers: trailers }),
    };
  }
  return undefined;
}

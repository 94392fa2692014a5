// Tap in a serving thread: the taps the main thread installed (io.linkerd.proxy.tap.Tap/Observe), matched
// against each HTTP request, and the request_init / response_init / response_end events of the requests
// they select, batched back to the main thread.
//
// Nothing here runs unless a tap is installed: the HTTP stacks test `taps.active` (one boolean) before
// calling in, and the hooks wrap only the response objects of requests a tap selected.
//
// Events are plain objects in the grpc-js loader's shape of `io.linkerd.proxy.tap.TapEvent` (snake_case,
// enums as names, uint64 as decimal strings), so the main thread sends them as they are.
import type http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import type { HostPort } from '../../config/parse.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';

// ── The request side of the wire (what grpc-js decodes an ObserveRequest into) ──

export interface IpAddressMessage {
  ipv4?: number;
  ipv6?: { first?: number | string; last?: number | string };
}

export interface MatchMessage {
  all?: { matches?: MatchMessage[] };
  any?: { matches?: MatchMessage[] };
  not?: MatchMessage;
  source?: TcpMatchMessage;
  destination?: TcpMatchMessage;
  http?: HttpMatchMessage;
  destination_label?: { key?: string; value?: string };
  route_label?: { key?: string; value?: string };
}

export interface TcpMatchMessage {
  netmask?: { ip?: IpAddressMessage; mask?: number };
  ports?: { min?: number; max?: number };
}

export interface StringMatchMessage {
  exact?: string;
  prefix?: string;
}

export interface HttpMatchMessage {
  scheme?: { registered?: string; unregistered?: string };
  method?: { registered?: string; unregistered?: string };
  authority?: StringMatchMessage;
  path?: StringMatchMessage;
}

export interface ObserveRequestMessage {
  limit?: number;
  match?: MatchMessage;
  extract?: { http?: { headers?: object } };
}

// ── A compiled match: plain data, so it can be posted to every worker ──

type Side = 'source' | 'destination';

export type TapMatch =
  | { readonly kind: 'everything' }
  | { readonly kind: 'all' | 'any'; readonly matches: readonly TapMatch[] }
  | { readonly kind: 'not'; readonly match: TapMatch }
  | { readonly kind: 'net'; readonly side: Side; readonly network: Uint8Array; readonly prefix: number }
  | { readonly kind: 'ports'; readonly side: Side; readonly min: number; readonly max: number }
  | { readonly kind: 'scheme' | 'method'; readonly value: string }
  | { readonly kind: 'authority' | 'path'; readonly exact: boolean; readonly value: string }
  | { readonly kind: 'destination_label' | 'route_label'; readonly key: string; readonly value: string };

/** An ObserveRequest the proxy cannot honour; the Tap server answers INVALID_ARGUMENT. */
export class InvalidTapMatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTapMatch';
  }
}

/** Which oneof case of a decoded message is set (grpc-js also names it in a virtual field). */
function caseOf<K extends string>(message: object, cases: readonly K[]): K | undefined {
  for (const c of cases) if ((message as Record<string, unknown>)[c] !== undefined && (message as Record<string, unknown>)[c] !== null) return c;
  return undefined;
}

const MATCH_CASES = ['all', 'any', 'not', 'source', 'destination', 'http', 'destination_label', 'route_label'] as const;

/** Compiles an ObserveRequest's match tree; an absent match selects every request. */
export function compileMatch(message: MatchMessage | null | undefined): TapMatch {
  if (message === undefined || message === null) return { kind: 'everything' };
  return compile(message, 0);
}

function compile(message: MatchMessage, depth: number): TapMatch {
  if (depth > 64) throw new InvalidTapMatch('match nested too deeply');
  switch (caseOf(message, MATCH_CASES)) {
    case 'all':
      return { kind: 'all', matches: (message.all?.matches ?? []).map((m) => compile(m, depth + 1)) };
    case 'any':
      return { kind: 'any', matches: (message.any?.matches ?? []).map((m) => compile(m, depth + 1)) };
    case 'not':
      return { kind: 'not', match: compile(message.not as MatchMessage, depth + 1) };
    case 'source':
      return compileTcp('source', message.source as TcpMatchMessage);
    case 'destination':
      return compileTcp('destination', message.destination as TcpMatchMessage);
    case 'http':
      return compileHttp(message.http as HttpMatchMessage);
    case 'destination_label':
      return compileLabel('destination_label', message.destination_label as { key?: string; value?: string });
    case 'route_label':
      return compileLabel('route_label', message.route_label as { key?: string; value?: string });
    case undefined:
      throw new InvalidTapMatch('a match names none of all, any, not, source, destination, http, destination_label, route_label');
    default:
      throw new InvalidTapMatch('unknown match');
  }
}

function compileLabel(kind: 'destination_label' | 'route_label', label: { key?: string; value?: string }): TapMatch {
  if (!label.key) throw new InvalidTapMatch(`${kind} needs a key`);
  return { kind, key: label.key, value: label.value ?? '' };
}

function compileTcp(side: Side, tcp: TcpMatchMessage): TapMatch {
  if (tcp.netmask !== undefined && tcp.netmask !== null) {
    const network = ipFromMessage(tcp.netmask.ip);
    if (network === undefined) throw new InvalidTapMatch(`${side} netmask needs an IPv4 or IPv6 address`);
    const bits = network.length * 8;
    // An unset mask (0) means the address itself.
    const mask = tcp.netmask.mask ?? 0;
    if (mask > bits) throw new InvalidTapMatch(`${side} netmask /${mask} is longer than the address`);
    return { kind: 'net', side, network, prefix: mask === 0 ? bits : mask };
  }
  if (tcp.ports !== undefined && tcp.ports !== null) {
    // As in Linkerd: one bound missing means the range is that single port.
    let min = tcp.ports.min ?? 0;
    let max = tcp.ports.max ?? 0;
    if (min === 0) min = max;
    if (max === 0) max = min;
    if (min === 0 || max > 65535 || min > max) throw new InvalidTapMatch(`${side} port range ${tcp.ports.min ?? 0}-${tcp.ports.max ?? 0} is not valid`);
    return { kind: 'ports', side, min, max };
  }
  throw new InvalidTapMatch(`${side} match needs a netmask or ports`);
}

function compileHttp(match: HttpMatchMessage): TapMatch {
  switch (caseOf(match, ['scheme', 'method', 'authority', 'path'] as const)) {
    case 'scheme': {
      const value = match.scheme?.registered ?? match.scheme?.unregistered;
      if (value === undefined || value === '') throw new InvalidTapMatch('scheme match needs a scheme');
      return { kind: 'scheme', value: value.toLowerCase() };
    }
    case 'method': {
      const value = match.method?.registered ?? match.method?.unregistered;
      if (value === undefined || value === '') throw new InvalidTapMatch('method match needs a method');
      return { kind: 'method', value };
    }
    case 'authority':
      // Host names are case-insensitive: authorities compare in lower case.
      return compileString('authority', match.authority as StringMatchMessage, (s) => s.toLowerCase());
    case 'path':
      return compileString('path', match.path as StringMatchMessage, (s) => s);
    default:
      throw new InvalidTapMatch('http match names none of scheme, method, authority, path');
  }
}

function compileString(kind: 'authority' | 'path', match: StringMatchMessage, normalize: (s: string) => string): TapMatch {
  if (typeof match.exact === 'string') return { kind, exact: true, value: normalize(match.exact) };
  if (typeof match.prefix === 'string') return { kind, exact: false, value: normalize(match.prefix) };
  throw new InvalidTapMatch(`${kind} match needs exact or prefix`);
}

// ── Addresses ──

/** An IP address as its bytes (4 or 16); IPv4-mapped IPv6 becomes IPv4. undefined for a name. */
export function ipBytes(host: string): Uint8Array | undefined {
  const v = net.isIP(host);
  if (v === 4) return Uint8Array.from(host.split('.').map(Number));
  if (v !== 6) return undefined;
  const text = host.toLowerCase().replace(/%.*$/, '');
  if (text.startsWith('::ffff:') && net.isIPv4(text.slice(7))) return ipBytes(text.slice(7));
  const split = (part: string): string[] => (part === '' ? [] : part.split(':'));
  // A dotted IPv4 tail (::1.2.3.4) is two groups.
  const dotted = (parts: string[]): string[] => {
    const last = parts[parts.length - 1];
    if (last === undefined || !last.includes('.')) return parts;
    const b = last.split('.').map(Number);
    return [...parts.slice(0, -1), (((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16), (((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)];
  };
  const gap = text.indexOf('::');
  const head = gap < 0 ? dotted(split(text)) : split(text.slice(0, gap));
  const tail = gap < 0 ? [] : dotted(split(text.slice(gap + 2)));
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** The bytes of a net.IPAddress message. */
export function ipFromMessage(ip: IpAddressMessage | null | undefined): Uint8Array | undefined {
  if (ip === undefined || ip === null) return undefined;
  if (ip.ipv4 !== undefined && ip.ipv4 !== null) {
    const n = Number(ip.ipv4) >>> 0;
    return Uint8Array.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  }
  if (ip.ipv6 !== undefined && ip.ipv6 !== null) {
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setBigUint64(0, BigInt.asUintN(64, BigInt(ip.ipv6.first ?? 0)));
    view.setBigUint64(8, BigInt.asUintN(64, BigInt(ip.ipv6.last ?? 0)));
    return out;
  }
  return undefined;
}

/** A net.TcpAddress message; without `ip` when the host is a name. uint64 halves as decimal strings. */
export function tcpAddress(addr: HostPort | undefined): object | undefined {
  if (addr === undefined) return undefined;
  const bytes = ipBytes(addr.host);
  if (bytes === undefined) return { port: addr.port };
  if (bytes.length === 4) {
    return { ip: { ipv4: new DataView(bytes.buffer).getUint32(0) }, port: addr.port };
  }
  const view = new DataView(bytes.buffer);
  return { ip: { ipv6: { first: view.getBigUint64(0).toString(), last: view.getBigUint64(8).toString() } }, port: addr.port };
}

function inNetwork(address: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (address.length !== network.length) return false;
  let bits = prefix;
  for (let i = 0; i < address.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address[i] as number) & mask) !== ((network[i] as number) & mask)) return false;
  }
  return true;
}

// ── Matching a request ──

export interface TapRequest {
  readonly direction: Direction;
  /** The client's address. */
  readonly source: HostPort | undefined;
  /** Where the request is sent (an IP when known). */
  readonly destination: HostPort | undefined;
  /** What the proxy knows about the destination (Destination metric labels), if anything. */
  readonly destinationLabels: Readonly<Record<string, string>> | undefined;
  readonly method: string;
  /** `http` or `https`, lower case. */
  readonly scheme: string;
  readonly authority: string;
  /** The path without its query, as Linkerd reports it. */
  readonly path: string;
}

class MatchContext {
  readonly req: TapRequest;
  private src: Uint8Array | null | undefined;
  private dst: Uint8Array | null | undefined;
  constructor(req: TapRequest) {
    this.req = req;
  }
  ip(side: Side): Uint8Array | null {
    if (side === 'source') {
      if (this.src === undefined) this.src = this.req.source === undefined ? null : (ipBytes(this.req.source.host) ?? null);
      return this.src;
    }
    if (this.dst === undefined) this.dst = this.req.destination === undefined ? null : (ipBytes(this.req.destination.host) ?? null);
    return this.dst;
  }
}

function test(match: TapMatch, ctx: MatchContext): boolean {
  switch (match.kind) {
    case 'everything':
      return true;
    case 'all':
      return match.matches.every((m) => test(m, ctx));
    case 'any':
      return match.matches.some((m) => test(m, ctx));
    case 'not':
      return !test(match.match, ctx);
    case 'net': {
      const ip = ctx.ip(match.side);
      return ip !== null && inNetwork(ip, match.network, match.prefix);
    }
    case 'ports': {
      const port = match.side === 'source' ? ctx.req.source?.port : ctx.req.destination?.port;
      return port !== undefined && port >= match.min && port <= match.max;
    }
    case 'scheme':
      return ctx.req.scheme === match.value;
    case 'method':
      return ctx.req.method === match.value;
    case 'authority': {
      const authority = ctx.req.authority.toLowerCase();
      return match.exact ? authority === match.value : authority.startsWith(match.value);
    }
    case 'path':
      return match.exact ? ctx.req.path === match.value : ctx.req.path.startsWith(match.value);
    case 'destination_label':
      return ctx.req.destinationLabels?.[match.key] === match.value;
    case 'route_label':
      // The proxy does not know routes (ServiceProfiles) yet: nothing carries route labels.
      return false;
    default:
      match satisfies never;
      return false;
  }
}

export function matches(match: TapMatch, req: TapRequest): boolean {
  return test(match, new MatchContext(req));
}

// ── Installed taps and the events of the requests they select ──

/** What the main thread sends to every serving thread for one Observe call. */
export interface TapInstall {
  readonly id: number;
  readonly match: TapMatch;
  /** Requests this tap may select in the whole process; 0 = no limit. */
  readonly limit: number;
  /** Shared by every thread: [0] = requests selected so far, so `limit` holds across workers. */
  readonly claimed: Int32Array;
  /** The process's random StreamId base and its shared stream counter. */
  readonly base: number;
  readonly streams: BigInt64Array;
  /** `extract.http.headers` was asked for: events carry request/response headers and trailers. */
  readonly headers: boolean;
}

/** One event for one tap. `done` marks the last event of a request stream (its response_end). */
export interface TapOut {
  readonly tap: number;
  readonly stream: number;
  readonly done: boolean;
  readonly event: object;
}

export type TapSink = (events: TapOut[]) => void;

interface Header {
  readonly name: string;
  readonly value: Uint8Array;
}

/** The `tls` label of the peer: there is no mTLS identity yet (metrics say the same). */
const TLS_LABEL = 'disabled';

export class TapRegistry {
  /** True while at least one tap is installed: the only thing the request path looks at otherwise. */
  active = false;
  /** Where batched events go: postMessage in a worker, the Tap server itself on the main thread. */
  sink: TapSink = () => {};
  private readonly taps = new Map<number, TapInstall>();
  private pending: TapOut[] = [];
  private scheduled = false;

  install(tap: TapInstall): void {
    this.taps.set(tap.id, tap);
    this.active = true;
  }

  remove(id: number): void {
    this.taps.delete(id);
    this.active = this.taps.size > 0;
  }

  installed(id: number): boolean {
    return this.taps.has(id);
  }

  /**
   * Offers a request to the installed taps; returns its stream (request_init already emitted) when at
   * least one selected it, else undefined.
   */
  start(req: TapRequest, requestHeaders: () => Header[], startedAt: number = performance.now()): TapStream | undefined {
    let selected: TapInstall[] | undefined;
    const ctx = new MatchContext(req);
    for (const tap of this.taps.values()) {
      if (!test(tap.match, ctx)) continue;
      // Claim one of the tap's requests; past the limit the request is not observed.
      if (tap.limit > 0 && Atomics.add(tap.claimed, 0, 1) >= tap.limit) continue;
      (selected ??= []).push(tap);
    }
    if (selected === undefined) return undefined;
    const first = selected[0] as TapInstall;
    const stream = Number(Atomics.add(first.streams, 0, 1n)) + 1;
    return new TapStream(this, selected, req, first.base, stream, requestHeaders, startedAt);
  }

  /** Queues an event; the queue goes to the sink once per turn of the event loop. */
  emit(out: TapOut): void {
    this.pending.push(out);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      this.sink(batch);
    });
  }
}

interface Duration {
  seconds: number;
  nanos: number;
}

function duration(ms: number): Duration {
  const clamped = Math.max(0, ms);
  const seconds = Math.floor(clamped / 1000);
  return { seconds, nanos: Math.round((clamped - seconds * 1000) * 1e6) };
}

const REGISTERED_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE']);

function methodMessage(method: string): object {
  return REGISTERED_METHODS.has(method) ? { registered: method } : { unregistered: method };
}

function schemeMessage(scheme: string): object {
  return scheme === 'http' ? { registered: 'HTTP' } : scheme === 'https' ? { registered: 'HTTPS' } : { unregistered: scheme };
}

export type Eos = { readonly grpc_status_code: number } | { readonly reset_error_code: number } | undefined;

/** One request selected by one or more taps, from request_init to response_end. */
export class TapStream {
  private readonly registry: TapRegistry;
  private readonly taps: readonly TapInstall[];
  private readonly envelope: Record<string, unknown>;
  private readonly id: { base: number; stream: string };
  private readonly stream: number;
  private readonly start: number;
  private responseStart: number | undefined;
  private ended = false;
  /** Response body bytes sent to the client. */
  bytes = 0;

  constructor(
    registry: TapRegistry,
    taps: readonly TapInstall[],
    req: TapRequest,
    base: number,
    stream: number,
    requestHeaders: () => Header[],
    startedAt: number,
  ) {
    this.registry = registry;
    this.start = startedAt;
    this.taps = taps;
    this.stream = stream;
    this.id = { base, stream: String(stream) };
    const inbound = req.direction === 'inbound';
    this.envelope = {
      source: tcpAddress(req.source),
      source_meta: { labels: inbound ? { tls: TLS_LABEL } : {} },
      destination: tcpAddress(req.destination),
      destination_meta: { labels: inbound ? { ...req.destinationLabels } : { ...req.destinationLabels, tls: TLS_LABEL } },
      proxy_direction: inbound ? 'INBOUND' : 'OUTBOUND',
    };
    const init = { id: this.id, method: methodMessage(req.method), scheme: schemeMessage(req.scheme), authority: req.authority, path: req.path };
    this.emit(false, (headers) => ({ request_init: headers ? { ...init, headers: { headers: requestHeaders() } } : init }));
  }

  responseInit(status: number, headers: () => Header[]): void {
    if (this.responseStart !== undefined || this.ended) return;
    this.responseStart = performance.now();
    const init = { id: this.id, since_request_init: duration(this.responseStart - this.start), http_status: status };
    this.emit(false, (withHeaders) => ({ response_init: withHeaders ? { ...init, headers: { headers: headers() } } : init }));
  }

  responseEnd(eos: Eos, trailers: () => Header[] | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const now = performance.now();
    const end: Record<string, unknown> = {
      id: this.id,
      since_request_init: duration(now - this.start),
      response_bytes: String(this.bytes),
    };
    if (this.responseStart !== undefined) end['since_response_init'] = duration(now - this.responseStart);
    if (eos !== undefined) end['eos'] = eos;
    this.emit(true, (withHeaders) => {
      const t = withHeaders ? trailers() : undefined;
      return { response_end: t === undefined ? end : { ...end, trailers: { headers: t } } };
    });
  }

  private emit(done: boolean, http: (withHeaders: boolean) => object): void {
    let plain: object | undefined;
    let full: object | undefined;
    for (const tap of this.taps) {
      if (!this.registry.installed(tap.id)) continue;
      let event: object;
      if (tap.headers) event = full ??= { ...this.envelope, http: http(true) };
      else event = plain ??= { ...this.envelope, http: http(false) };
      this.registry.emit({ tap: tap.id, stream: this.stream, done, event });
    }
  }
}

// ── Hooks for the HTTP stacks ──
//
// A request is offered to the taps once the proxy knows where it goes: `tapDestination` (the plain
// forwarding path, or the mesh's endpoint pick), or else when its response begins or it ends, with the
// destination it was routed by. Until then only its response is watched. Only the response objects of
// requests that arrive while a tap is installed are wrapped.

const TAP = Symbol('sluice.tap');
type Tapped = { [TAP]?: PendingTap };

interface Resolver {
  cached(host: string): string | null | undefined;
}

type RequestPart = Omit<TapRequest, 'destination' | 'destinationLabels'>;

class PendingTap {
  private readonly taps: TapRegistry;
  private readonly req: RequestPart;
  private readonly fallback: HostPort | undefined;
  private readonly dns: Resolver;
  private readonly headers: () => Header[];
  private readonly startedAt = performance.now();
  private decided = false;
  /** Set once decided, when a tap selected the request. */
  stream: TapStream | undefined;

  constructor(taps: TapRegistry, req: RequestPart, fallback: HostPort | undefined, dns: Resolver, headers: () => Header[]) {
    this.taps = taps;
    this.req = req;
    this.fallback = fallback;
    this.dns = dns;
    this.headers = headers;
  }

  decide(destination?: HostPort, labels?: Readonly<Record<string, string>>): TapStream | undefined {
    if (this.decided) return this.stream;
    this.decided = true;
    let dst = destination ?? this.fallback;
    // A name (HTTP/2 sessions resolve their own): report the address when this thread's cache knows it.
    if (dst !== undefined && net.isIP(dst.host) === 0) {
      const resolved = this.dns.cached(dst.host);
      if (typeof resolved === 'string') dst = { host: resolved, port: dst.port };
    }
    this.stream = this.taps.start({ ...this.req, destination: dst, destinationLabels: labels }, this.headers, this.startedAt);
    return this.stream;
  }
}

/**
 * Where a request observed by `tapHttp1` / `tapH2` is sent: `target` is the response (HTTP/1) or the
 * server stream (HTTP/2). The first call counts (a retry to another endpoint does not move it).
 */
export function tapDestination(target: object, destination: HostPort | undefined, labels?: Readonly<Record<string, string>>): void {
  (target as Tapped)[TAP]?.decide(destination, labels);
}

function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function headerList(entries: Iterable<[string, unknown]>): Header[] {
  const out: Header[] = [];
  for (const [name, value] of entries) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push({ name: name.toLowerCase(), value: Buffer.from(String(v)) });
  }
  return out;
}

function rawPairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

/** Headers as given to writeHead: an object, a flat [name, value, …] list, or a list of pairs. */
function headersArg(headers: unknown): Header[] {
  if (headers === undefined || headers === null) return [];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return headerList(headers as Array<[string, unknown]>);
    return headerList(rawPairs(headers as string[]));
  }
  return headerList(Object.entries(headers as Record<string, unknown>));
}

function chunkLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

function grpcStatus(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function peerOf(socket: net.Socket | null | undefined): HostPort | undefined {
  const host = socket?.remoteAddress;
  const port = socket?.remotePort;
  return host === undefined || port === undefined ? undefined : { host, port };
}

/**
 * Watches an HTTP/1 request for the installed taps, from its arrival. `authority` and `path` are what it
 * is routed by; `routedTo` the destination it would have without a better one (tapDestination).
 * Wraps this response's writeHead/write/end/addTrailers only, so the proxy's own error answers are
 * seen like forwarded ones.
 */
export function tapHttp1(
  rt: { readonly taps: TapRegistry; readonly dns: Resolver },
  direction: Direction,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  authority: string,
  path: string,
  routedTo: HostPort | undefined,
): void {
  if ((res as Tapped)[TAP] !== undefined) return;
  const pending = new PendingTap(
    rt.taps,
    { direction, source: peerOf(req.socket), method: req.method ?? 'GET', scheme: 'http', authority, path: pathOnly(path) },
    routedTo,
    rt.dns,
    () => headerList(rawPairs(req.rawHeaders)),
  );
  (res as Tapped)[TAP] = pending;
  let bytes = 0;
  let trailers: Header[] | undefined;
  let grpc: number | undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, status: number, ...rest: unknown[]) {
    const headers = rest.length > 0 && typeof rest[0] !== 'string' ? rest[0] : rest[1];
    pending.decide()?.responseInit(status, () => headersArg(headers));
    return (writeHead as (...args: unknown[]) => http.ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
  const write = res.write;
  res.write = function (this: http.ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bytes += chunkLength(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  const end = res.end;
  res.end = function (this: http.ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bytes += chunkLength(chunk, rest[0]);
    return (end as (...args: unknown[]) => http.ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  const addTrailers = res.addTrailers;
  res.addTrailers = function (this: http.ServerResponse, headers) {
    trailers = headersArg(headers);
    grpc = grpcStatus(trailers.find((h) => h.name === 'grpc-status')?.value.toString());
    return addTrailers.call(this, headers);
  };
  const finish = (complete: boolean): void => {
    const stream = pending.decide();
    if (stream === undefined) return;
    stream.bytes = bytes;
    // Closed before the response was complete (cut, or the client left): HTTP/1 has no reset code.
    stream.responseEnd(complete && grpc !== undefined ? { grpc_status_code: grpc } : undefined, () => trailers);
  };
  res.once('finish', () => finish(true));
  res.once('close', () => finish(false));
}

/**
 * Watches an HTTP/2 stream for the installed taps, from its arrival (see tapHttp1). Wraps this stream's
 * respond/write/end/sendTrailers only; its close gives the end, and a reset its code.
 */
export function tapH2(
  rt: { readonly taps: TapRegistry; readonly dns: Resolver },
  direction: Direction,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  authority: string,
  routedTo: HostPort | undefined,
): void {
  if ((stream as Tapped)[TAP] !== undefined) return;
  const pending = new PendingTap(
    rt.taps,
    {
      direction,
      source: peerOf(stream.session?.socket as net.Socket | undefined),
      method: String(headers[':method'] ?? 'GET'),
      scheme: String(headers[':scheme'] ?? 'http').toLowerCase(),
      authority,
      path: pathOnly(String(headers[':path'] ?? '/')),
    },
    routedTo,
    rt.dns,
    () => headerList(Object.entries(headers)),
  );
  (stream as Tapped)[TAP] = pending;
  let bytes = 0;
  let trailers: Header[] | undefined;
  let grpc: number | undefined;
  const respond = stream.respond;
  stream.respond = function (this: http2.ServerHttp2Stream, response?: http2.OutgoingHttpHeaders, options?: http2.ServerStreamResponseOptions) {
    pending.decide()?.responseInit(Number(response?.[':status'] ?? 200), () => headerList(Object.entries(response ?? {})));
    // Trailers-only (gRPC errors): the status is in the headers.
    if (options?.endStream === true) grpc = grpcStatus(response?.['grpc-status']);
    return respond.call(this, response, options);
  };
  const write = stream.write;
  stream.write = function (this: http2.ServerHttp2Stream, chunk: unknown, ...rest: unknown[]) {
    bytes += chunkLength(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
  const end = stream.end;
  stream.end = function (this: http2.ServerHttp2Stream, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bytes += chunkLength(chunk, rest[0]);
    return (end as (...args: unknown[]) => http2.ServerHttp2Stream).call(this, chunk, ...rest);
  } as typeof stream.end;
  const sendTrailers = stream.sendTrailers;
  stream.sendTrailers = function (this: http2.ServerHttp2Stream, headers: http2.OutgoingHttpHeaders) {
    trailers = headerList(Object.entries(headers));
    grpc = grpcStatus(headers['grpc-status']);
    return sendTrailers.call(this, headers);
  };
  stream.once('close', () => {
    const tap = pending.decide();
    if (tap === undefined) return;
    tap.bytes = bytes;
    const code = stream.rstCode;
    const eos: Eos = code !== undefined && code !== 0 ? { reset_error_code: code } : grpc !== undefined ? { grpc_status_code: grpc } : undefined;
    tap.responseEnd(eos, () => trailers);
  });
}

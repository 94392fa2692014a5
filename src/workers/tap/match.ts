// Tap matches: the Observe request's match tree (io.linkerd.proxy.tap.ObserveRequest.Match, as grpc-js
// decodes it) compiled once into a plain tree, and tested against each HTTP request. Pure.
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
  /**
   * The peer's TLS labels (`tls`, and `client_id` inbound / `server_id` outbound over mesh TLS), put on
   * the source (inbound) or destination (outbound) meta; `tls: disabled` when absent.
   */
  readonly tls?: Readonly<Record<string, string>>;
}

/** A request prepared once for testing against several taps' matches. */
export class MatchContext {
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

export function testMatch(match: TapMatch, ctx: MatchContext): boolean {
  switch (match.kind) {
    case 'everything':
      return true;
    case 'all':
      return match.matches.every((m) => testMatch(m, ctx));
    case 'any':
      return match.matches.some((m) => testMatch(m, ctx));
    case 'not':
      return !testMatch(match.match, ctx);
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
  return testMatch(match, new MatchContext(req));
}

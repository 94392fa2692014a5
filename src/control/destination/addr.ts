// `io.linkerd.proxy.net.TcpAddress` <-> text. IPv4 travels as one fixed32 (big-endian value of the four
// octets), IPv6 as two fixed64 halves (`first` = most significant 64 bits). The 64-bit halves are
// produced as decimal strings, which protobufjs encodes exactly; decoding accepts strings, bigints,
// numbers (exact only below 2^53) and Long-like `{low, high}` objects.
import net from 'node:net';
import { formatIpv6 } from '../../api/net-address.ts';

export { formatIpv6 };

export interface IPv6Message {
  readonly first: string;
  readonly last: string;
}

export type IPAddressMessage = { readonly ipv4: number } | { readonly ipv6: IPv6Message };

export interface TcpAddressMessage {
  readonly ip: IPAddressMessage;
  readonly port: number;
}

/** The eight 16-bit groups of an IPv6 address (embedded IPv4 tails allowed). Throws when invalid. */
export function ipv6Groups(text: string): number[] {
  if (net.isIPv6(text) === false || text.includes('%')) throw new Error(`not an IPv6 address: ${text}`);
  let head = text;
  const tail: number[] = [];
  const lastColon = head.lastIndexOf(':');
  const maybeV4 = head.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const octets = maybeV4.split('.').map(Number) as [number, number, number, number];
    tail.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
    // Keep the ':' so "::1.2.3.4" becomes "::" and "ffff:1.2.3.4" becomes "ffff:".
    head = head.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = head.indexOf('::');
  let groups: number[];
  if (gap >= 0) {
    const left = parse(head.slice(0, gap));
    const right = [...parse(head.slice(gap + 2)), ...tail];
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    groups = [...parse(head), ...tail];
  }
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${text}`);
  return groups;
}

/** The canonical text of an IP address (IPv4 as is, IPv6 per RFC 5952). Throws when invalid. */
export function canonicalIp(text: string): string {
  if (net.isIPv4(text)) return text;
  return formatIpv6(ipv6Groups(text));
}

function groupsToHalves(groups: readonly number[]): IPv6Message {
  let first = 0n;
  let last = 0n;
  for (let i = 0; i < 4; i++) first = (first << 16n) | BigInt(groups[i] as number);
  for (let i = 4; i < 8; i++) last = (last << 16n) | BigInt(groups[i] as number);
  return { first: first.toString(), last: last.toString() };
}

export function encodeIp(text: string): IPAddressMessage {
  if (net.isIPv4(text)) {
    const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
    return { ipv4: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0 };
  }
  return { ipv6: groupsToHalves(ipv6Groups(text)) };
}

export function encodeTcpAddress(ip: string, port: number): TcpAddressMessage {
  return { ip: encodeIp(ip), port };
}

/** A fixed64 as decoded by protobufjs with any `longs` option, as an unsigned bigint. */
export function toUint64(value: unknown): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'string') return BigInt.asUintN(64, BigInt(value));
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`fixed64 ${value} lost precision (decode with longs: String)`);
    return BigInt.asUintN(64, BigInt(value));
  }
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  if (value === undefined || value === null) return 0n;
  throw new Error(`not a fixed64: ${String(value)}`);
}

/** Decodes an `IPAddress` message (as protobufjs/grpc-js produce it) to canonical text. */
export function decodeIp(message: unknown): string {
  const m = (message ?? {}) as { ipv4?: unknown; ipv6?: { first?: unknown; last?: unknown } | null; ip?: string };
  const which = m.ip ?? (m.ipv6 !== undefined && m.ipv6 !== null ? 'ipv6' : 'ipv4');
  if (which === 'ipv6') {
    const first = toUint64(m.ipv6?.first);
    const last = toUint64(m.ipv6?.last);
    const groups: number[] = [];
    for (let i = 3; i >= 0; i--) groups.push(Number((first >> BigInt(i * 16)) & 0xffffn));
    for (let i = 3; i >= 0; i--) groups.push(Number((last >> BigInt(i * 16)) & 0xffffn));
    return formatIpv6(groups);
  }
  const v = Number(m.ipv4 ?? 0) >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function decodeTcpAddress(message: unknown): { ip: string; port: number } {
  const m = (message ?? {}) as { ip?: unknown; port?: unknown };
  return { ip: decodeIp(m.ip), port: Number(m.port ?? 0) };
}

/** `ip:port` or `[v6]:port`, with the IP in canonical form: the key of an endpoint. */
export function formatAddr(ip: string, port: number): string {
  const canonical = canonicalIp(ip);
  return canonical.includes(':') ? `[${canonical}]:${port}` : `${canonical}:${port}`;
}

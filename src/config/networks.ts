// IP networks (CIDRs) for configuration, and membership tests. Plain data (bigint and numbers), so a parsed
// list crosses to worker threads unchanged.
import net from 'node:net';
import { ConfigError } from './parse.ts';

export interface Network {
  readonly family: 4 | 6;
  /** The network address, host bits zero. */
  readonly base: bigint;
  readonly prefix: number;
}

/** An IPv4 or IPv6 address as a number (IPv4-mapped IPv6 counts as IPv4); undefined if not an address. */
export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const text = mapped?.[1] ?? ip;
  if (net.isIPv4(text)) {
    let value = 0n;
    for (const part of text.split('.')) value = (value << 8n) | BigInt(Number(part));
    return { family: 4, value };
  }
  if (!net.isIPv6(text)) return undefined;
  return { family: 6, value: ipv6ToBigInt(text) };
}

/** An IPv6 literal (already checked with `net.isIPv6`; a zone is ignored) as its 128-bit value. */
export function ipv6ToBigInt(text: string): bigint {
  const zone = text.indexOf('%');
  let bare = zone >= 0 ? text.slice(0, zone) : text;
  // A trailing dotted quad (::1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (quad !== null) {
    const parts = (quad[1] as string).split('.').map(Number) as [number, number, number, number];
    bare = `${bare.slice(0, quad.index)}${((parts[0] << 8) | parts[1]).toString(16)}:${((parts[2] << 8) | parts[3]).toString(16)}`;
  }
  const [head, tail] = bare.includes('::') ? (bare.split('::') as [string, string]) : [bare, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
  return value;
}

function bitsOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128. */
export function parseNetwork(variable: string, value: string, entry: string): Network {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const ip = ipToBigInt(address);
  const prefixText = slash < 0 ? undefined : entry.slice(slash + 1);
  if (ip === undefined || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
    throw new ConfigError(variable, value, `"${entry}" is not a network such as 10.0.0.0/8 or fd00::/8`);
  }
  const bits = bitsOf(ip.family);
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) throw new ConfigError(variable, value, `"${entry}": prefix longer than ${bits} bits`);
  const hostBits = BigInt(bits - prefix);
  return { family: ip.family, base: (ip.value >> hostBits) << hostBits, prefix };
}

/** Comma-separated networks; empty means none. */
export function parseNetworks(variable: string, value: string): Network[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => parseNetwork(variable, value, part));
}

export function inNetworks(ip: string, networks: readonly Network[]): boolean {
  if (networks.length === 0) return false;
  const parsed = ipToBigInt(ip);
  if (parsed === undefined) return false;
  for (const network of networks) {
    if (network.family !== parsed.family) continue;
    const hostBits = BigInt(bitsOf(network.family) - network.prefix);
    if ((parsed.value >> hostBits) << hostBits === network.base) return true;
  }
  return false;
}

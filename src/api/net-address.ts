// io.linkerd.proxy.net addresses (IPAddress, TcpAddress) as text, whichever way they were decoded:
// ipv4 as a number, ipv6 halves as numbers or decimal strings. Pure; shared by the controller and CLI.

export interface IpAddressLike {
  ipv4?: number | string | null;
  ipv6?: { first?: number | string | null; last?: number | string | null } | null;
}

export interface TcpAddressLike {
  ip?: IpAddressLike | null;
  port?: number | string | null;
}

/** `10.1.2.3`, `fd00::1` (RFC 5952: lower case, longest run of zero groups compressed), or '' when unset. */
export function formatIp(ip: IpAddressLike | null | undefined): string {
  if (ip === null || ip === undefined) return '';
  if (ip.ipv4 !== undefined && ip.ipv4 !== null) {
    const n = Number(ip.ipv4) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  }
  if (ip.ipv6 !== undefined && ip.ipv6 !== null) {
    const value = (BigInt.asUintN(64, BigInt(ip.ipv6.first ?? 0)) << 64n) | BigInt.asUintN(64, BigInt(ip.ipv6.last ?? 0));
    return formatIpv6(ipv6GroupsOf(value));
  }
  return '';
}

/** `ip:port`, `[v6]:port`; `:port` alone when the address has no IP. */
export function formatTcpAddress(addr: TcpAddressLike | null | undefined): string {
  if (addr === null || addr === undefined) return '';
  const ip = formatIp(addr.ip);
  const port = Number(addr.port ?? 0);
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The eight 16-bit groups of a 128-bit IPv6 value, most significant first. */
export function ipv6GroupsOf(value: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
}

/** RFC 5952 text of eight 16-bit groups: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

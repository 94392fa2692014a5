// Where a connection or a request goes. Pure: the caller supplies what it knows about the connection.
//
// Inbound traffic always goes to the connection's original destination (the app in this pod).
// Outbound HTTP follows the request's authority, as a mesh routes by logical name; TCP, and HTTP whose
// authority is missing or names this proxy itself (a client pointed straight at the proxy), go to the
// original destination. Without iptables there is none, and the configured forward address stands in.
import net from 'node:net';
import type { HostPort } from '../../config/parse.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';

export interface ConnectionInfo {
  readonly direction: Direction;
  /** Destination before iptables redirected the connection; undefined when not redirected. */
  readonly originalDst: HostPort | undefined;
  /** The address of the listener that accepted the connection. */
  readonly listen: HostPort;
}

export interface ForwardAddrs {
  readonly inboundForwardAddr: HostPort | undefined;
  readonly outboundForwardAddr: HostPort | undefined;
}

export function connectionTarget(conn: ConnectionInfo, forward: ForwardAddrs): HostPort | undefined {
  if (conn.originalDst !== undefined) return conn.originalDst;
  return conn.direction === 'inbound' ? forward.inboundForwardAddr : forward.outboundForwardAddr;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOOPBACK_NAMES = new Set(['localhost', '::1']);

/** Whether connecting to `host` reaches this machine; a wildcard address does too (on Linux, as loopback). */
function isLoopback(host: string): boolean {
  if (LOOPBACK_NAMES.has(host) || WILDCARDS.has(host)) return true;
  // 127.0.0.0/8, also IPv4-mapped; a name such as `127.example.com` is not an address.
  if (host.startsWith('127.')) return net.isIPv4(host);
  return host.startsWith('::ffff:127.') && net.isIPv4(host.slice(7));
}

/** True when `addr` reaches the listener itself, which would make the proxy talk to itself. */
export function namesListener(addr: HostPort, listen: HostPort): boolean {
  if (addr.port !== listen.port) return false;
  if (addr.host === listen.host || WILDCARDS.has(listen.host)) return true;
  return isLoopback(addr.host) && isLoopback(listen.host);
}

/**
 * `host`, `host:port`, `[v6]` or `[v6]:port`, as in Host and :authority (userinfo is not allowed there).
 * Returns undefined for anything malformed.
 */
export function parseAuthority(authority: string, defaultPort: number): HostPort | undefined {
  if (authority === '' || authority.length > 1024) return undefined;
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return undefined;
    host = authority.slice(1, end);
    if (!net.isIPv6(host)) return undefined;
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else {
      host = authority;
    }
    if (!/^[A-Za-z0-9._-]+$/.test(host)) return undefined;
  }
  if (portText === undefined || portText === '') return { host: host.toLowerCase(), port: defaultPort };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host: host.toLowerCase(), port };
}

/** Parses authorities with a bounded cache: the same few names arrive on every request. */
export class AuthorityCache {
  /** By default port, then by authority: no key is built per lookup, and none can collide. */
  private readonly byPort = new Map<number, Map<string, HostPort | null>>();
  private entries = 0;
  private readonly limit: number;

  constructor(limit = 1024) {
    this.limit = limit;
  }

  /** How many authorities are cached (never more than the limit). */
  get size(): number {
    return this.entries;
  }

  get(authority: string, defaultPort: number): HostPort | undefined {
    let cache = this.byPort.get(defaultPort);
    const cached = cache?.get(authority);
    if (cached !== undefined) return cached ?? undefined;
    const parsed = parseAuthority(authority, defaultPort);
    if (this.entries >= this.limit) {
      this.byPort.clear();
      this.entries = 0;
      cache = undefined;
    }
    if (cache === undefined) {
      cache = new Map();
      this.byPort.set(defaultPort, cache);
    }
    cache.set(authority, parsed ?? null);
    this.entries++;
    return parsed;
  }
}

/** The upstream of one HTTP request. `authority` is the request's Host / :authority, if any. */
export function httpTarget(
  conn: ConnectionInfo,
  authority: HostPort | undefined,
  forward: ForwardAddrs,
): HostPort | undefined {
  if (conn.direction === 'outbound' && authority !== undefined && !namesListener(authority, conn.listen)) {
    return authority;
  }
  return connectionTarget(conn, forward);
}

// Decoding the Destination API's messages (as grpc/destination-schema.ts decodes them, in the shape
// @grpc/proto-loader gave: snake_case fields, 64-bit integers as decimal strings, enums as names, a
// virtual field naming each oneof's case) into
// the plain data workers receive (destination-state.ts), and applying `Update` diffs to an endpoint set.
// Pure. Anything malformed is skipped rather than trusted: an address that cannot be read is no endpoint.
import { formatHostPort } from '../config/parse.ts';
import type {
  EndpointData,
  ProfileData,
  RequestMatchData,
  ResponseMatchData,
  RouteData,
} from '../workers/discovery/state.ts';
import type { RetryBudgetConfig } from '../workers/retry/budget.ts';
import { formatIpv6, ipv6GroupsOf } from '../api/net-address.ts';

type Labels = Record<string, string> | undefined;
type Long = string | number | undefined;

export interface TcpAddressMsg {
  ip?: { ip?: string; ipv4?: number; ipv6?: { first?: Long; last?: Long } };
  port?: number;
}
export interface WeightedAddrMsg {
  addr?: TcpAddressMsg;
  weight?: number;
  metric_labels?: Labels;
  tls_identity?: { strategy?: string; dns_like_identity?: { name?: string }; server_name?: { name?: string } };
  protocol_hint?: { protocol?: string; h2?: object };
}
export interface UpdateMsg {
  update?: string;
  add?: { addrs?: WeightedAddrMsg[]; metric_labels?: Labels };
  remove?: { addrs?: TcpAddressMsg[] };
  no_endpoints?: { exists?: boolean };
}
export interface DurationMsg {
  seconds?: Long;
  nanos?: number;
}
export interface RequestMatchMsg {
  match?: string;
  all?: { matches?: RequestMatchMsg[] };
  any?: { matches?: RequestMatchMsg[] };
  not?: RequestMatchMsg;
  path?: { regex?: string };
  method?: { type?: string; registered?: string; unregistered?: string };
}
export interface ResponseMatchMsg {
  match?: string;
  all?: { matches?: ResponseMatchMsg[] };
  any?: { matches?: ResponseMatchMsg[] };
  not?: ResponseMatchMsg;
  status?: { min?: number; max?: number };
}
export interface RouteMsg {
  condition?: RequestMatchMsg;
  response_classes?: Array<{ condition?: ResponseMatchMsg; is_failure?: boolean }>;
  metrics_labels?: Labels;
  is_retryable?: boolean;
  timeout?: DurationMsg;
}
export interface ProfileMsg {
  fully_qualified_name?: string;
  routes?: RouteMsg[];
  retry_budget?: { retry_ratio?: number; min_retries_per_second?: number; ttl?: DurationMsg };
  endpoint?: WeightedAddrMsg;
}

/** Nesting deeper than this is refused: a condition tree is written by hand, never this deep. */
const MAX_DEPTH = 16;

function ipv6Text(value: bigint): string {
  return formatIpv6(ipv6GroupsOf(value));
}

function toBigInt(value: Long): bigint | undefined {
  if (value === undefined) return 0n;
  try {
    const n = BigInt(value);
    return n >= 0n && n < 1n << 64n ? n : undefined;
  } catch {
    return undefined;
  }
}

/** `{ip: {ipv4: 0x7f000001}, port: 80}` → `{host: '127.0.0.1', port: 80}`; undefined if unreadable. */
export function decodeTcpAddress(addr: TcpAddressMsg | undefined): { host: string; port: number } | undefined {
  const port = addr?.port;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const ip = addr?.ip;
  if (ip?.ipv4 !== undefined && (ip.ip === undefined || ip.ip === 'ipv4')) {
    const v = ip.ipv4 >>> 0;
    return { host: `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, port };
  }
  if (ip?.ipv6 !== undefined) {
    const first = toBigInt(ip.ipv6.first);
    const last = toBigInt(ip.ipv6.last);
    if (first === undefined || last === undefined) return undefined;
    return { host: ipv6Text((first << 64n) | last), port };
  }
  return undefined;
}

function stringMap(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  if (labels === undefined || labels === null) return out;
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A DNS-like identity as the proxy accepts one: what a certificate's DNS SAN can hold, ≤ 253 characters. */
const DNS_LIKE = /^(?=.{1,253}$)[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

/**
 * The endpoint's mesh identity (`dns_like_identity`; a URI-like one is not supported and the endpoint is
 * reached in plaintext, as Linkerd's proxy does), with its SNI (`server_name`, else the identity).
 */
export function decodeTlsIdentity(tls: WeightedAddrMsg['tls_identity']): EndpointData['tlsIdentity'] {
  const identity = tls?.dns_like_identity?.name?.toLowerCase();
  if (identity === undefined || !DNS_LIKE.test(identity)) return undefined;
  const sni = tls?.server_name?.name?.toLowerCase();
  return { identity, serverName: sni !== undefined && DNS_LIKE.test(sni) ? sni : identity };
}

export function decodeEndpoint(addr: WeightedAddrMsg | undefined, setLabels: Labels): EndpointData | undefined {
  const hostPort = decodeTcpAddress(addr?.addr);
  if (hostPort === undefined) return undefined;
  const endpoint: { -readonly [K in keyof EndpointData]: EndpointData[K] } = {
    ...hostPort,
    labels: { ...stringMap(setLabels), ...stringMap(addr?.metric_labels) },
  };
  const tlsIdentity = decodeTlsIdentity(addr?.tls_identity);
  if (tlsIdentity !== undefined) endpoint.tlsIdentity = tlsIdentity;
  const hint = addr?.protocol_hint;
  if (hint !== undefined && hint !== null && (hint.protocol === 'h2' || (hint.protocol === undefined && hint.h2 !== undefined))) endpoint.protocolHint = 'h2';
  return endpoint;
}

/** The endpoints of one Get stream, as its diffs arrive. */
export class EndpointTable {
  private readonly byAddr = new Map<string, EndpointData>();

  /** Applies one Update; `first` (the first message of a stream) replaces the set, as it is the full set. */
  apply(update: UpdateMsg, first: boolean): 'ok' | 'absent' {
    if (first) this.byAddr.clear();
    switch (update.update ?? (update.add ? 'add' : update.remove ? 'remove' : update.no_endpoints ? 'no_endpoints' : '')) {
      case 'add':
        for (const addr of update.add?.addrs ?? []) {
          const endpoint = decodeEndpoint(addr, update.add?.metric_labels);
          if (endpoint !== undefined) this.byAddr.set(formatHostPort(endpoint), endpoint);
        }
        return 'ok';
      case 'remove':
        for (const addr of update.remove?.addrs ?? []) {
          const hostPort = decodeTcpAddress(addr);
          if (hostPort !== undefined) this.byAddr.delete(formatHostPort(hostPort));
        }
        return 'ok';
      case 'no_endpoints':
        this.byAddr.clear();
        // `exists: false`: the controller knows no such service.
        return update.no_endpoints?.exists === true ? 'ok' : 'absent';
      default:
        return 'ok';
    }
  }

  list(): EndpointData[] {
    return [...this.byAddr.values()].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  }
}

export function durationMs(d: DurationMsg | undefined): number | undefined {
  if (d === undefined || d === null) return undefined;
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos) || seconds < 0) return undefined;
  return Math.min(seconds * 1000 + Math.round(nanos / 1e6), 2 ** 31 - 1);
}

export function decodeRequestMatch(m: RequestMatchMsg | undefined, depth = 0): RequestMatchData {
  if (m === undefined || m === null || depth > MAX_DEPTH) return { kind: 'none' };
  switch (m.match) {
    case 'all':
      return { kind: 'all', matches: (m.all?.matches ?? []).map((x) => decodeRequestMatch(x, depth + 1)) };
    case 'any':
      return { kind: 'any', matches: (m.any?.matches ?? []).map((x) => decodeRequestMatch(x, depth + 1)) };
    case 'not':
      return { kind: 'not', match: decodeRequestMatch(m.not, depth + 1) };
    case 'path':
      return typeof m.path?.regex === 'string' ? { kind: 'path', regex: m.path.regex } : { kind: 'none' };
    case 'method': {
      const method = m.method?.type === 'unregistered' ? m.method.unregistered : (m.method?.registered ?? (m.method?.type === 'registered' ? 'GET' : undefined));
      return typeof method === 'string' && method !== '' ? { kind: 'method', method: method.toUpperCase() } : { kind: 'none' };
    }
    default:
      return { kind: 'none' };
  }
}

export function decodeResponseMatch(m: ResponseMatchMsg | undefined, depth = 0): ResponseMatchData {
  if (m === undefined || m === null || depth > MAX_DEPTH) return { kind: 'none' };
  switch (m.match) {
    case 'all':
      return { kind: 'all', matches: (m.all?.matches ?? []).map((x) => decodeResponseMatch(x, depth + 1)) };
    case 'any':
      return { kind: 'any', matches: (m.any?.matches ?? []).map((x) => decodeResponseMatch(x, depth + 1)) };
    case 'not':
      return { kind: 'not', match: decodeResponseMatch(m.not, depth + 1) };
    case 'status':
      return { kind: 'status', min: m.status?.min ?? 0, max: m.status?.max ?? 0 };
    default:
      return { kind: 'none' };
  }
}

export function decodeRoute(r: RouteMsg): RouteData {
  return {
    condition: decodeRequestMatch(r.condition),
    responseClasses: (r.response_classes ?? []).map((c) => ({ condition: decodeResponseMatch(c.condition), isFailure: c.is_failure === true })),
    labels: stringMap(r.metrics_labels),
    isRetryable: r.is_retryable === true,
    timeoutMs: durationMs(r.timeout),
  };
}

export function decodeProfile(p: ProfileMsg): ProfileData {
  const budget = p.retry_budget;
  let retryBudget: RetryBudgetConfig | undefined;
  if (budget !== undefined && budget !== null) {
    retryBudget = {
      retryRatio: Number.isFinite(budget.retry_ratio) ? (budget.retry_ratio as number) : 0,
      minRetriesPerSecond: budget.min_retries_per_second ?? 0,
      ttlMs: durationMs(budget.ttl) ?? 10_000,
    };
  }
  return { fullyQualifiedName: p.fully_qualified_name ?? '', routes: (p.routes ?? []).map(decodeRoute), retryBudget };
}

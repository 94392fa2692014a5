// The proxy's control-plane settings: where the Destination service is, which names and addresses are
// asked about, how long unused answers are kept, how reconnects back off, and the outbound balancer's
// failure accrual. Parsed once at start with the rest of the proxy's configuration.
import type { BackoffConfig } from '../core/backoff.ts';
import { parseNetworks, type Network } from './networks.ts';
import { ConfigError, parseDuration, parseHostPort, type HostPort } from './parse.ts';

/** Failure accrual of the outbound balancer's endpoints (src/workers/balance/failure-accrual.ts). */
export interface AccrualConfig extends BackoffConfig {
  /** Failures in a row that eject an endpoint; 0 never ejects. Linkerd: 7. */
  readonly maxFailures: number;
}

export interface DestinationConfig {
  /** The Destination service (Get, GetProfile); undefined = no control plane, names resolve by DNS. */
  readonly destinationAddr: HostPort | undefined;
  /** Sent as `context_token` on every lookup: `{"ns":…,"nodeName":…,"pod":…}` or legacy `ns:<namespace>`. */
  readonly destinationContext: string;
  /** Name suffixes sent to the controller, lower case with a trailing dot; `.` means every name. */
  readonly destinationProfileSuffixes: readonly string[];
  /** IP destinations in these networks are looked up with GetProfile (cluster IPs, pod IPs). */
  readonly destinationProfileNetworks: readonly Network[];
  /** A name no worker has used for this long is forgotten and its streams are closed. */
  readonly outboundDiscoveryIdleTimeoutMs: number;
  /** A control stream that sends nothing for this long counts as failed; requests stop waiting for it. */
  readonly controlStreamInitialTimeoutMs: number;
  readonly controlBackoff: BackoffConfig;
  readonly failureAccrual: AccrualConfig;
}

/** Linkerd's default: only Kubernetes service names are worth asking the controller about. */
export const DEFAULT_PROFILE_SUFFIXES = 'svc.cluster.local.';
/** Linkerd's default cluster networks (RFC 1918, carrier-grade NAT, IPv6 unique local). */
export const DEFAULT_PROFILE_NETWORKS = '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8';

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function duration(env: Env, name: string, fallbackMs: number, allowZero: boolean): number {
  const value = read(env, name);
  if (value === undefined) return fallbackMs;
  const ms = parseDuration(name, value);
  if (ms === 0 && !allowZero) throw new ConfigError(name, value, 'must be more than 0');
  return ms;
}

function ratio(env: Env, name: string, fallback: number): number {
  const value = read(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > 100) throw new ConfigError(name, value, 'expected a number such as 0.5');
  return Number(value);
}

function count(env: Env, name: string, fallback: number): number {
  const value = read(env, name);
  if (value === undefined) return fallback;
  if (!/^\d{1,6}$/.test(value)) throw new ConfigError(name, value, 'expected a whole number (0 disables)');
  return Number(value);
}

function contextToken(env: Env): string {
  const name = 'SLUICE_PROXY_DESTINATION_CONTEXT';
  const value = read(env, name);
  if (value === undefined) return '';
  if (/^ns:[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) return value; // Linkerd's legacy form
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return value;
  } catch {
    // reported below
  }
  throw new ConfigError(name, value, 'expected a JSON object such as {"ns":"default","nodeName":"node-1","pod":"web-0"}, or ns:<namespace>');
}

/** `svc.cluster.local.`, `.svc.cluster.local`, `Example.COM` → `svc.cluster.local.`, `example.com.`. */
function suffixes(env: Env): string[] {
  const name = 'SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES';
  const raw = env[name] ?? DEFAULT_PROFILE_SUFFIXES;
  const out: string[] = [];
  for (const part of raw.split(/[\s,]+/)) {
    if (part === '') continue;
    if (part === '.') {
      out.push('.');
      continue;
    }
    const trimmed = part.replace(/^\.+/, '').toLowerCase();
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(trimmed)) {
      throw new ConfigError(name, raw, `"${part}" is not a DNS suffix such as svc.cluster.local.`);
    }
    out.push(trimmed.endsWith('.') ? trimmed : `${trimmed}.`);
  }
  return out;
}

export function parseDestinationConfig(env: Env): DestinationConfig {
  const addrName = 'SLUICE_PROXY_DESTINATION_SVC_ADDR';
  const addr = read(env, addrName);
  const backoffMin = duration(env, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_MIN', 100, false);
  const backoffMax = duration(env, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX', 10_000, false);
  if (backoffMax < backoffMin) {
    throw new ConfigError('SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX', read(env, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX') ?? '', 'must not be less than SLUICE_PROXY_CONTROL_EXP_BACKOFF_MIN');
  }
  // Names are spelled out in full so that docs/configuration.md can be checked against this file.
  const penaltyMin = duration(env, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY', 1_000, false);
  const penaltyMax = duration(env, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_PENALTY', 60_000, false);
  if (penaltyMax < penaltyMin) {
    throw new ConfigError(
      'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_PENALTY',
      read(env, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_PENALTY') ?? '',
      'must not be less than SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY',
    );
  }
  return {
    destinationAddr: addr === undefined ? undefined : parseHostPort(addrName, addr),
    destinationContext: contextToken(env),
    destinationProfileSuffixes: suffixes(env),
    destinationProfileNetworks: parseNetworks(
      'SLUICE_PROXY_DESTINATION_PROFILE_NETWORKS',
      env['SLUICE_PROXY_DESTINATION_PROFILE_NETWORKS'] ?? DEFAULT_PROFILE_NETWORKS,
    ),
    // Linkerd's outbound discovery idle timeout: long enough to span the gaps of a chatty client.
    outboundDiscoveryIdleTimeoutMs: duration(env, 'SLUICE_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT', 5_000, false),
    // Linkerd's control stream initial timeout: a controller silent this long is treated as down.
    controlStreamInitialTimeoutMs: duration(env, 'SLUICE_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT', 3_000, false),
    controlBackoff: {
      minMs: backoffMin,
      maxMs: backoffMax,
      jitter: ratio(env, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_JITTER', 0.1),
    },
    // Linkerd's consecutive failure accrual defaults (balancer.linkerd.io/failure-accrual-consecutive-*).
    failureAccrual: {
      maxFailures: count(env, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES', 7),
      minMs: penaltyMin,
      maxMs: penaltyMax,
      jitter: ratio(env, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_JITTER_RATIO', 0.5),
    },
  };
}

// The proxy's configuration, parsed once at start from SLUICE_PROXY_* variables (named after their
// LINKERD2_PROXY_* twins). Nothing else in the proxy reads process.env.
import os from 'node:os';
import { ConfigError, parseBool, parseDuration, parseHostPort, parsePortList, type HostPort } from './parse.ts';
import { parseDestinationConfig, type DestinationConfig } from './destination-config.ts';
import { coresGiven, workersForCores } from './cpu.ts';
import { identityNameVariable, parseIdentityConfig, type IdentityConfig } from './identity-config.ts';
import { parseInboundPolicyConfig, type InboundPolicyConfig } from './inbound-policy-config.ts';

export { ConfigError, type HostPort };

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'plain' | 'json';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];

/** Control-plane settings (the Destination service, discovery, failure accrual) are in destination-config.ts. */
export interface ProxyConfig extends DestinationConfig {
  readonly inboundListen: HostPort;
  readonly outboundListen: HostPort;
  readonly adminListen: HostPort;
  /** Worker threads serving connections; 0 serves on the main thread. */
  readonly workers: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly inboundConnectTimeoutMs: number;
  readonly outboundConnectTimeoutMs: number;
  readonly detectTimeoutMs: number;
  /** Inbound ports whose traffic is never inspected (server-speaks-first protocols). */
  readonly opaquePorts: ReadonlySet<number>;
  readonly shutdownGracePeriodMs: number;
  readonly shutdownEndpointEnabled: boolean;
  /** Where inbound connections go when they carry no original destination (no iptables). */
  readonly inboundForwardAddr: HostPort | undefined;
  /** Where outbound connections go when they carry no original destination and no usable authority. */
  readonly outboundForwardAddr: HostPort | undefined;
  /** Time allowed for a client to send a complete request head. */
  readonly httpHeaderTimeoutMs: number;
  /** Time from sending a request until the response head arrives; 0 disables. */
  readonly httpResponseTimeoutMs: number;
  /** Keep-alive upstream HTTP/1.1 connections idle longer than this are closed. */
  readonly httpPoolIdleTimeoutMs: number;
  /** How often to check whether the proxy went idle and give freed memory back (acceptor/idle-trim.ts); 0 never. */
  readonly memoryTrimIntervalMs: number;
  /** HTTP/1 engine: `fast` (raw sockets, http1-fast.ts) or `node` (node:http, http1.ts). */
  readonly http1Engine: 'fast' | 'node';
  /** Telemetry reports to the controller (Telemetry.Report); see docs/proxy.md. */
  readonly telemetry: TelemetryConfig;
  /** The Tap gRPC server (io.linkerd.proxy.tap.Tap/Observe); undefined when disabled. */
  readonly tapListen: HostPort | undefined;
  /**
   * The only identity the Tap server serves when identity is on (the controller's, whose tap relay
   * calls it over mutual TLS); with identity on and no name, tap is off, as in Linkerd. Unused without identity.
   */
  readonly tapSvcName: string | undefined;
  /** The proxy's own identity (Certify, renewal); undefined when identity is off. See identity-config.ts. */
  readonly identity: IdentityConfig | undefined;
  /** Inbound authorization (docs/authorization.md). */
  readonly inboundPolicy: InboundPolicyConfig;
}

/** Linkerd's default opaque ports: SMTP, submission, MySQL, Galera SST, Postgres, Redis,
 * Elasticsearch transport, Memcached. Their servers speak first, so detection would only wait. */
export const DEFAULT_OPAQUE_PORTS = '25,587,3306,4444,5432,6379,9300,11211';

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  const match = allowed.find((a) => a === lower);
  if (match === undefined) throw new ConfigError(name, value, `expected one of ${allowed.join(', ')}`);
  return match;
}

function duration(env: Env, name: string, fallbackMs: number): number {
  const value = read(env, name);
  return value === undefined ? fallbackMs : parseDuration(name, value);
}

/** A duration that cannot be 0: a connect or detect timeout of 0 would fail every connection at once. */
function positiveDuration(env: Env, name: string, fallbackMs: number): number {
  const ms = duration(env, name, fallbackMs);
  if (ms === 0) throw new ConfigError(name, read(env, name) ?? '', 'must be more than 0');
  return ms;
}

function address(env: Env, name: string, fallback: string): HostPort {
  return parseHostPort(name, read(env, name) ?? fallback);
}

function optionalAddress(env: Env, name: string): HostPort | undefined {
  const value = read(env, name);
  return value === undefined ? undefined : parseHostPort(name, value);
}

function workerCount(env: Env): number {
  const name = 'SLUICE_PROXY_WORKERS';
  const value = read(env, name);
  if (value === undefined) return workersForCores(coresGiven());
  if (!/^\d+$/.test(value)) throw new ConfigError(name, value, 'expected a whole number (0 serves on the main thread)');
  const n = Number(value);
  if (n > 256) throw new ConfigError(name, value, 'at most 256 workers');
  return n;
}

/** Linkerd's tap port unless disabled: `off`, or set but empty, turns the Tap server off. */
function tapAddress(env: Env): HostPort | undefined {
  const name = 'SLUICE_PROXY_TAP_LISTEN_ADDR';
  const value = env[name];
  if (value === undefined) return parseHostPort(name, '0.0.0.0:4190');
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'off') return undefined;
  return parseHostPort(name, trimmed);
}

function optionalIdentityName(env: Env, name: string): string | undefined {
  const value = read(env, name);
  return value === undefined ? undefined : identityNameVariable(name, value);
}

export interface TelemetryConfig {
  /** The controller's Telemetry service; undefined = no reports. */
  readonly svcAddr: HostPort | undefined;
  readonly reportIntervalMs: number;
  /** Who reports: the pod (default: the host name, which is the pod name in Kubernetes) … */
  readonly podName: string;
  readonly podNamespace: string;
  /** … and the workload that owns it, `<kind>/<name>` (`deployment/web`), or '' when not known. */
  readonly workload: string;
  /** The proxy's own identity (reported so that the controller can name the caller of a `client_id`); '' without one. */
  readonly localIdentity: string;
}

/** kubectl's short names of the workload kinds a pod can belong to. */
const WORKLOAD_KINDS: Readonly<Record<string, string>> = {
  deploy: 'deployment',
  deployment: 'deployment',
  sts: 'statefulset',
  statefulset: 'statefulset',
  ds: 'daemonset',
  daemonset: 'daemonset',
  rs: 'replicaset',
  replicaset: 'replicaset',
  rc: 'replicationcontroller',
  replicationcontroller: 'replicationcontroller',
  job: 'job',
  cj: 'cronjob',
  cronjob: 'cronjob',
  po: 'pod',
  pod: 'pod',
};

function telemetryConfig(env: Env, identity: IdentityConfig | undefined): TelemetryConfig {
  const workloadName = 'SLUICE_PROXY_WORKLOAD';
  const workload = read(env, workloadName);
  let normalized = '';
  if (workload !== undefined) {
    const slash = workload.indexOf('/');
    const kind = WORKLOAD_KINDS[workload.slice(0, slash).toLowerCase()];
    const name = workload.slice(slash + 1);
    if (slash < 0 || kind === undefined || name === '' || name.includes('/')) {
      throw new ConfigError(workloadName, workload, 'expected <kind>/<name>, e.g. deployment/web');
    }
    normalized = `${kind}/${name}`;
  }
  const svcName = read(env, 'SLUICE_PROXY_TELEMETRY_SVC_ADDR') !== undefined ? 'SLUICE_PROXY_TELEMETRY_SVC_ADDR' : 'SLUICE_PROXY_DESTINATION_SVC_ADDR';
  return {
    svcAddr: optionalAddress(env, svcName),
    reportIntervalMs: positiveDuration(env, 'SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL', 5_000),
    podName: read(env, 'SLUICE_PROXY_POD_NAME') ?? os.hostname(),
    podNamespace: read(env, 'SLUICE_PROXY_POD_NAMESPACE') ?? 'default',
    workload: normalized,
    localIdentity: identity?.localName ?? '',
  };
}

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function parseProxyConfig(env: Env): ProxyConfig {
  // A level may be given Linkerd-style (`warn,linkerd=info`): the first bare level wins.
  const rawLevel = read(env, 'SLUICE_PROXY_LOG');
  const level = rawLevel?.split(',').find((part) => !part.includes('='))?.trim();
  const identity = parseIdentityConfig(env);
  const destination = parseDestinationConfig(env);
  const telemetry = telemetryConfig(env, identity);
  return {
    inboundListen: address(env, 'SLUICE_PROXY_INBOUND_LISTEN_ADDR', '0.0.0.0:4143'),
    outboundListen: address(env, 'SLUICE_PROXY_OUTBOUND_LISTEN_ADDR', '127.0.0.1:4140'),
    adminListen: address(env, 'SLUICE_PROXY_ADMIN_LISTEN_ADDR', '127.0.0.1:4191'),
    workers: workerCount(env),
    logLevel: oneOf({ SLUICE_PROXY_LOG: level }, 'SLUICE_PROXY_LOG', LOG_LEVELS, 'info'),
    logFormat: oneOf(env, 'SLUICE_PROXY_LOG_FORMAT', ['plain', 'json'] as const, 'plain'),
    // Inbound connects to a process in the same pod, so a slow connect means it is not listening.
    inboundConnectTimeoutMs: positiveDuration(env, 'SLUICE_PROXY_INBOUND_CONNECT_TIMEOUT', 100),
    outboundConnectTimeoutMs: positiveDuration(env, 'SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT', 1000),
    detectTimeoutMs: positiveDuration(env, 'SLUICE_PROXY_DETECT_TIMEOUT', 10_000),
    opaquePorts: new Set(
      parsePortList(
        'SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION',
        env['SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION'] ?? DEFAULT_OPAQUE_PORTS,
      ),
    ),
    shutdownGracePeriodMs: duration(env, 'SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD', 120_000),
    shutdownEndpointEnabled: parseBool(
      'SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED',
      read(env, 'SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED') ?? 'false',
    ),
    inboundForwardAddr: optionalAddress(env, 'SLUICE_PROXY_INBOUND_FORWARD_ADDR'),
    outboundForwardAddr: optionalAddress(env, 'SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'),
    ...destination,
    httpHeaderTimeoutMs: duration(env, 'SLUICE_PROXY_HTTP_HEADER_TIMEOUT', 10_000),
    // Linkerd's default route timeout.
    httpResponseTimeoutMs: duration(env, 'SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT', 10_000),
    // Linkerd's HTTP/1 pool idle timeout: long enough to reuse, short enough not to hoard sockets.
    httpPoolIdleTimeoutMs: duration(env, 'SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT', 3_000),
    memoryTrimIntervalMs: duration(env, 'SLUICE_PROXY_MEMORY_TRIM_INTERVAL', 5_000),
    // `fast` costs ~3.5x less CPU per request (docs/performance.md); `node` remains as the fallback.
    http1Engine: oneOf(env, 'SLUICE_PROXY_HTTP1_ENGINE', ['fast', 'node'] as const, 'fast'),
    telemetry,
    tapListen: tapAddress(env),
    tapSvcName: optionalIdentityName(env, 'SLUICE_PROXY_TAP_SVC_NAME'),
    identity,
    inboundPolicy: parseInboundPolicyConfig(env, destination.destinationAddr, telemetry.podName, telemetry.podNamespace),
  };
}

// The controller's configuration: flags override SLUICE_CONTROLLER_* variables, which override defaults.
import { parseArgs } from 'node:util';
import { ConfigError, parseDuration, parseHostPort, type HostPort } from '../config/parse.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from '../config/proxy-config.ts';
import { DEFAULT_POLICIES, type DefaultPolicy } from '../api/inbound-policy.ts';
import { DEFAULT_PROFILE_NETWORKS } from '../config/destination-config.ts';
import { parseNetworks, type Network } from '../config/networks.ts';

export interface ControllerConfig {
  /** Where proxies reach the controller: Destination (Get, GetProfile) and Telemetry. Linkerd: 8086. */
  readonly proxyApiAddr: HostPort;
  /** The public API for the CLI and dashboard (gRPC and HTTP/JSON on one port). Linkerd: 8085. */
  readonly publicApiAddr: HostPort;
  /** `/live`, `/ready` (for the kubelet's probes) and `/metrics`. */
  readonly adminAddr: HostPort;
  /** The other replicas, which this one forwards the telemetry reports it receives to (docs/install.md, HA). */
  readonly peers: PeerSource;
  /** This replica's own address (downward API `status.podIP`), left out when a peer name resolves to it. */
  readonly podIp: string | undefined;
  /** `kubernetes` in a cluster, else `file`. */
  readonly discovery: 'kubernetes' | 'file';
  /** The YAML file for file discovery; undefined = the embedded default (an empty mesh). */
  readonly discoveryFile: string | undefined;
  readonly clusterDomain: string;
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
  /** What a port no Server describes allows, for pods that do not say (docs/authorization.md). */
  readonly defaultInboundPolicy: DefaultPolicy;
  /** What `cluster-*` policies mean by "the cluster". */
  readonly clusterNetworks: readonly Network[];
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** The Identity service (Certify) for proxies. Linkerd: 8080. */
  readonly identityAddr: HostPort;
  /** The issuer from files; undefined = from Kubernetes (Secret sluice-identity-issuer), or identity off. */
  readonly identityIssuerFiles: { readonly certificate: string; readonly key: string; readonly anchors: string } | undefined;
  /** The key of local-mesh tokens (file discovery); see docs/identity.md. */
  readonly identityTokenKeyFile: string | undefined;
  /** How long leaf certificates live. Linkerd: 24 h. */
  readonly identityIssuanceLifetimeMs: number;
  /** Absent in configurations built by hand (tests): the injector is off. */
  readonly injector?: InjectorConfig;
  /** Answer stat and routes from this Prometheus server instead of the embedded store (docs/controller.md). */
  readonly prometheusUrl?: string;
  /** The web dashboard (docs/dashboard.md); absent in configurations built by hand, or `off`: no dashboard. */
  readonly dashboard?: DashboardConfig;
}

export interface DashboardConfig {
  readonly addr: HostPort;
  /**
   * The address is the default (not given): when it is taken, listen on a port the system picks instead
   * of failing, so that several controllers on one machine (tests, two demos) all start.
   */
  readonly fallbackToFreePort: boolean;
}

/** The proxy injector (mutating admission webhook); off unless both TLS files are given. */
export interface InjectorConfig {
  readonly addr: HostPort;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** The install values (YAML) the sidecar is built from; undefined = the defaults. */
  readonly valuesFile: string | undefined;
  /** PEM trust anchors for the proxies (the `sluice-identity-trust-roots` ConfigMap, mounted). */
  readonly trustAnchorsFile: string | undefined;
}

/** Where the other controller replicas are: none, a fixed list, or every address a DNS name resolves to. */
export type PeerSource =
  | { readonly kind: 'none' }
  | { readonly kind: 'static'; readonly addrs: readonly HostPort[] }
  | { readonly kind: 'dns'; readonly host: string; readonly port: number };

/** `host:port,host:port`, or `dns:<name>:<port>` (a headless Service's name: one address per replica). */
export function parsePeers(variable: string, value: string | undefined): PeerSource {
  if (value === undefined || value === '') return { kind: 'none' };
  if (value.startsWith('dns:')) {
    const { host, port } = parseHostPort(variable, value.slice(4));
    if (port === 0) throw new ConfigError(variable, value, 'a peer port cannot be 0');
    return { kind: 'dns', host, port };
  }
  const addrs = value.split(',').map((part) => parseHostPort(variable, part.trim()));
  if (addrs.some((a) => a.port === 0)) throw new ConfigError(variable, value, 'a peer port cannot be 0');
  return { kind: 'static', addrs };
}

export const USAGE = `Usage: sluice-controller [flags]

Flags (each also settable as SLUICE_CONTROLLER_<NAME>, e.g. SLUICE_CONTROLLER_PROXY_API_ADDR):
  --proxy-api-addr <host:port>     Destination and Telemetry for proxies (default 0.0.0.0:8086)
  --public-api-addr <host:port>    public API for the CLI and dashboard (default 127.0.0.1:8085)
  --admin-addr <host:port>         /live, /ready and /metrics (default 0.0.0.0:9990 in a cluster, else 127.0.0.1:0)
  --dashboard-addr <host:port|off> the web dashboard (default 0.0.0.0:8084 in a cluster, else 127.0.0.1:8084,
                                   or a free port when 8084 is taken)
  --peers <list>                   other replicas to share telemetry with: host:port,… or dns:<name>:<port>
  --pod-ip <ip>                    this replica's address, skipped among the peers (default: none)
  --discovery <kubernetes|file>    where services come from (default: kubernetes in a cluster, else file)
  --discovery-file <path>          YAML services, endpoints and profiles for file discovery (watched)
  --cluster-domain <domain>        default cluster.local
  --control-plane-namespace <ns>   default sluice
  --trust-domain <domain>          default cluster.local
  --default-inbound-policy <p>     all-unauthenticated (default), all-authenticated, cluster-authenticated,
                                   cluster-unauthenticated or deny: for ports no Server describes
  --cluster-networks <cidrs>       what cluster-* policies admit (default 10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,
                                   192.168.0.0/16,fd00::/8)
  --identity-addr <host:port>      Identity (Certify) for proxies (default 0.0.0.0:8080)
  --identity-issuer-cert <path>    issuer certificate PEM (with any intermediates); with the next two,
  --identity-issuer-key <path>       the issuer comes from these files (watched) instead of the Secret
  --identity-trust-anchors <path>    sluice-identity-issuer; all three or none
  --identity-token-key <path>      key of local-mesh tokens (file discovery; sluice identity token)
  --identity-issuance-lifetime <d> lifetime of proxy certificates (default 24h)
  --log <level>                    error, warn, info, debug, trace (default info)
  --log-format <plain|json>        default plain
  --webhook-addr <host:port>       proxy injector webhook, HTTPS (default 0.0.0.0:8443)
  --webhook-tls-cert <path>        its certificate (PEM); the injector is off without cert and key
  --webhook-tls-key <path>         its private key (PEM)
  --values <path>                  install values (YAML) the injected sidecar is built from
  --identity-trust-anchors-file <path>  PEM trust anchors given to injected proxies
  --prometheus-url <url>           answer stat and routes from this Prometheus (it scrapes the proxies)
                                   instead of the embedded telemetry store
  -h, --help`;

const FLAGS = {
  'proxy-api-addr': { type: 'string' },
  'public-api-addr': { type: 'string' },
  'admin-addr': { type: 'string' },
  'dashboard-addr': { type: 'string' },
  peers: { type: 'string' },
  'pod-ip': { type: 'string' },
  discovery: { type: 'string' },
  'discovery-file': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'trust-domain': { type: 'string' },
  'default-inbound-policy': { type: 'string' },
  'cluster-networks': { type: 'string' },
  'identity-addr': { type: 'string' },
  'identity-issuer-cert': { type: 'string' },
  'identity-issuer-key': { type: 'string' },
  'identity-trust-anchors': { type: 'string' },
  'identity-token-key': { type: 'string' },
  'identity-issuance-lifetime': { type: 'string' },
  log: { type: 'string' },
  'log-format': { type: 'string' },
  'webhook-addr': { type: 'string' },
  'webhook-tls-cert': { type: 'string' },
  'webhook-tls-key': { type: 'string' },
  values: { type: 'string' },
  'identity-trust-anchors-file': { type: 'string' },
  'prometheus-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Env = Readonly<Record<string, string | undefined>>;

export function parseControllerConfig(argv: readonly string[], env: Env): ControllerConfig | 'help' {
  const { values } = parseArgs({ args: [...argv], options: FLAGS, strict: true });
  if (values.help === true) return 'help';
  const get = (flag: keyof typeof FLAGS): { name: string; value: string | undefined } => {
    const name = `SLUICE_CONTROLLER_${flag.toUpperCase().replace(/-/g, '_')}`;
    const fromFlag = values[flag];
    if (typeof fromFlag === 'string') return { name: `--${flag}`, value: fromFlag };
    return { name, value: env[name]?.trim() || undefined };
  };
  const addr = (flag: keyof typeof FLAGS, fallback: string): HostPort => {
    const { name, value } = get(flag);
    return parseHostPort(name, value ?? fallback);
  };
  const choice = <T extends string>(flag: keyof typeof FLAGS, allowed: readonly T[], fallback: T): T => {
    const { name, value } = get(flag);
    if (value === undefined) return fallback;
    const match = allowed.find((a) => a === value);
    if (match === undefined) throw new ConfigError(name, value, `expected one of ${allowed.join(', ')}`);
    return match;
  };
  const inCluster = env['KUBERNETES_SERVICE_HOST'] !== undefined;
  const issuerFiles = [get('identity-issuer-cert'), get('identity-issuer-key'), get('identity-trust-anchors')];
  const givenFiles = issuerFiles.filter((f) => f.value !== undefined);
  if (givenFiles.length > 0 && givenFiles.length < 3) {
    const missing = issuerFiles.filter((f) => f.value === undefined).map((f) => f.name);
    throw new ConfigError(givenFiles[0]!.name, givenFiles[0]!.value ?? '', `the issuer files go together: also set ${missing.join(' and ')}`);
  }
  const lifetime = get('identity-issuance-lifetime');
  const identityIssuanceLifetimeMs = lifetime.value === undefined ? 24 * 3600_000 : parseDuration(lifetime.name, lifetime.value);
  // Proxies renew at 70 % of the lifetime but no sooner than 10 s after a certificate arrives: shorter
  // lifetimes would expire before renewal. Short ones (20s) exist for tests of renewal.
  if (identityIssuanceLifetimeMs < 15_000) throw new ConfigError(lifetime.name, lifetime.value ?? '', 'expected at least 15s');
  return {
    proxyApiAddr: addr('proxy-api-addr', '0.0.0.0:8086'),
    publicApiAddr: addr('public-api-addr', '127.0.0.1:8085'),
    // In a cluster the kubelet probes 9990; elsewhere (the local mesh, tests) a fixed port would only
    // collide between controllers, so the system picks one (logged in `controller ready … admin=`).
    adminAddr: addr('admin-addr', inCluster ? '0.0.0.0:9990' : '127.0.0.1:0'),
    peers: parsePeers(get('peers').name, get('peers').value),
    podIp: get('pod-ip').value,
    discovery: choice('discovery', ['kubernetes', 'file'] as const, inCluster ? 'kubernetes' : 'file'),
    discoveryFile: get('discovery-file').value,
    clusterDomain: get('cluster-domain').value ?? 'cluster.local',
    controlPlaneNamespace: get('control-plane-namespace').value ?? 'sluice',
    trustDomain: get('trust-domain').value ?? 'cluster.local',
    defaultInboundPolicy: choice('default-inbound-policy', DEFAULT_POLICIES, 'all-unauthenticated'),
    clusterNetworks: parseNetworks(get('cluster-networks').name, get('cluster-networks').value ?? DEFAULT_PROFILE_NETWORKS),
    logLevel: choice('log', LOG_LEVELS, 'info'),
    logFormat: choice('log-format', ['plain', 'json'] as const, 'plain'),
    identityAddr: addr('identity-addr', '0.0.0.0:8080'),
    identityIssuerFiles:
      givenFiles.length === 3
        ? { certificate: issuerFiles[0]!.value!, key: issuerFiles[1]!.value!, anchors: issuerFiles[2]!.value! }
        : undefined,
    identityTokenKeyFile: get('identity-token-key').value,
    identityIssuanceLifetimeMs,
    injector: injectorConfig(get, addr),
    ...dashboardConfig(get('dashboard-addr'), inCluster),
    ...prometheusUrl(get('prometheus-url')),
  };
}

function prometheusUrl({ name, value }: { name: string; value: string | undefined }): { prometheusUrl?: string } {
  if (value === undefined) return {};
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, value, 'expected a URL such as http://prometheus.monitoring.svc:9090');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, value, 'expected an http or https URL');
  return { prometheusUrl: url.href };
}

function dashboardConfig(given: { name: string; value: string | undefined }, inCluster: boolean): { dashboard?: DashboardConfig } {
  if (given.value === 'off') return {};
  // Linkerd's dashboard port. In a cluster it listens on every address (reached by port-forward); on a
  // workstation only on loopback, since it shows every request's path and headers (tap).
  const fallback = inCluster ? '0.0.0.0:8084' : '127.0.0.1:8084';
  return { dashboard: { addr: parseHostPort(given.name, given.value ?? fallback), fallbackToFreePort: given.value === undefined } };
}

function injectorConfig(
  get: (flag: keyof typeof FLAGS) => { name: string; value: string | undefined },
  addr: (flag: keyof typeof FLAGS, fallback: string) => HostPort,
): InjectorConfig {
  const cert = get('webhook-tls-cert');
  const key = get('webhook-tls-key');
  if ((cert.value === undefined) !== (key.value === undefined)) {
    const missing = cert.value === undefined ? cert : key;
    throw new ConfigError(missing.name, '', 'the webhook needs both --webhook-tls-cert and --webhook-tls-key');
  }
  return {
    addr: addr('webhook-addr', '0.0.0.0:8443'),
    tlsCert: cert.value,
    tlsKey: key.value,
    valuesFile: get('values').value,
    trustAnchorsFile: get('identity-trust-anchors-file').value,
  };
}

/** Every setting at its default (file discovery): a base for tests and tools that build a config by hand. */
export function controllerDefaults(): ControllerConfig {
  return parseControllerConfig([], {}) as ControllerConfig;
}

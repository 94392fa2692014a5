// The controller's configuration: flags override SLUICE_CONTROLLER_* variables, which override defaults.
import { parseArgs } from 'node:util';
import { ConfigError, parseDuration, parseHostPort, type HostPort } from '../config/parse.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from '../config/proxy-config.ts';

export interface ControllerConfig {
  /** Where proxies reach the controller: Destination (Get, GetProfile) and Telemetry. Linkerd: 8086. */
  readonly proxyApiAddr: HostPort;
  /** The public API for the CLI and dashboard (gRPC and HTTP/JSON on one port). Linkerd: 8085. */
  readonly publicApiAddr: HostPort;
  /** `kubernetes` in a cluster, else `file`. */
  readonly discovery: 'kubernetes' | 'file';
  /** The YAML file for file discovery; undefined = the embedded default (an empty mesh). */
  readonly discoveryFile: string | undefined;
  readonly clusterDomain: string;
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
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
}

export const USAGE = `Usage: sluice-controller [flags]

Flags (each also settable as SLUICE_CONTROLLER_<NAME>, e.g. SLUICE_CONTROLLER_PROXY_API_ADDR):
  --proxy-api-addr <host:port>     Destination and Telemetry for proxies (default 0.0.0.0:8086)
  --public-api-addr <host:port>    public API for the CLI and dashboard (default 127.0.0.1:8085)
  --discovery <kubernetes|file>    where services come from (default: kubernetes in a cluster, else file)
  --discovery-file <path>          YAML services, endpoints and profiles for file discovery (watched)
  --cluster-domain <domain>        default cluster.local
  --control-plane-namespace <ns>   default sluice
  --trust-domain <domain>          default cluster.local
  --identity-addr <host:port>      Identity (Certify) for proxies (default 0.0.0.0:8080)
  --identity-issuer-cert <path>    issuer certificate PEM (with any intermediates); with the next two,
  --identity-issuer-key <path>       the issuer comes from these files (watched) instead of the Secret
  --identity-trust-anchors <path>    sluice-identity-issuer; all three or none
  --identity-token-key <path>      key of local-mesh tokens (file discovery; sluice identity token)
  --identity-issuance-lifetime <d> lifetime of proxy certificates (default 24h)
  --log <level>                    error, warn, info, debug, trace (default info)
  --log-format <plain|json>        default plain
  -h, --help`;

const FLAGS = {
  'proxy-api-addr': { type: 'string' },
  'public-api-addr': { type: 'string' },
  discovery: { type: 'string' },
  'discovery-file': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'trust-domain': { type: 'string' },
  'identity-addr': { type: 'string' },
  'identity-issuer-cert': { type: 'string' },
  'identity-issuer-key': { type: 'string' },
  'identity-trust-anchors': { type: 'string' },
  'identity-token-key': { type: 'string' },
  'identity-issuance-lifetime': { type: 'string' },
  log: { type: 'string' },
  'log-format': { type: 'string' },
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
  if (identityIssuanceLifetimeMs < 60_000) throw new ConfigError(lifetime.name, lifetime.value ?? '', 'expected at least 1m');
  return {
    proxyApiAddr: addr('proxy-api-addr', '0.0.0.0:8086'),
    publicApiAddr: addr('public-api-addr', '127.0.0.1:8085'),
    discovery: choice('discovery', ['kubernetes', 'file'] as const, inCluster ? 'kubernetes' : 'file'),
    discoveryFile: get('discovery-file').value,
    clusterDomain: get('cluster-domain').value ?? 'cluster.local',
    controlPlaneNamespace: get('control-plane-namespace').value ?? 'sluice',
    trustDomain: get('trust-domain').value ?? 'cluster.local',
    logLevel: choice('log', LOG_LEVELS, 'info'),
    logFormat: choice('log-format', ['plain', 'json'] as const, 'plain'),
    identityAddr: addr('identity-addr', '0.0.0.0:8080'),
    identityIssuerFiles:
      givenFiles.length === 3
        ? { certificate: issuerFiles[0]!.value!, key: issuerFiles[1]!.value!, anchors: issuerFiles[2]!.value! }
        : undefined,
    identityTokenKeyFile: get('identity-token-key').value,
    identityIssuanceLifetimeMs,
  };
}

/** Every setting at its default (file discovery): a base for tests and tools that build a config by hand. */
export function controllerDefaults(): ControllerConfig {
  return parseControllerConfig([], {}) as ControllerConfig;
}

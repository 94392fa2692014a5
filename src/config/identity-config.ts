// The proxy's identity settings (Linkerd's LINKERD2_PROXY_IDENTITY_* twins), parsed once at start with
// the rest of the configuration. Identity is on when all six variables are set (the injector sets them
// together), off when none is, or when SLUICE_PROXY_IDENTITY_DISABLED says so; anything in between is a
// mistake worth stopping for, because a proxy that silently runs without identity would carry its
// pod's traffic in plaintext and never become what the mesh expects.
//
// The trust anchors are parsed here (node:crypto, no extra library) so that a mangled PEM stops the
// proxy at start with the variable's name instead of failing every Certify call later.
import type { X509Certificate } from 'node:crypto';
import { ConfigError, parseBool, parseHostPort, type HostPort } from './parse.ts';

export interface IdentityConfig {
  /** Linkerd's end-entity directory (an emptyDir in memory). The key never leaves the process; kept for parity. */
  readonly dir: string;
  /** PEM bundle the Identity service's and peers' chains must end in. */
  readonly trustAnchorsPem: string;
  /** Token proving who this proxy is; read again before every Certify call (projected tokens rotate). */
  readonly tokenFile: string;
  /** The name the proxy asks for: `<sa>.<ns>.serviceaccount.identity.<cp-ns>.<trust-domain>`. */
  readonly localName: string;
  /** The Identity service, e.g. `sluice-identity.sluice.svc.cluster.local:8080`. */
  readonly svcAddr: HostPort;
  /** The identity the Identity service's TLS certificate must carry (the controller's). */
  readonly svcName: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Spelled out in full so that docs/configuration.md can be checked against this file. */
const VARIABLES = [
  'SLUICE_PROXY_IDENTITY_DIR',
  'SLUICE_PROXY_IDENTITY_TRUST_ANCHORS',
  'SLUICE_PROXY_IDENTITY_TOKEN_FILE',
  'SLUICE_PROXY_IDENTITY_LOCAL_NAME',
  'SLUICE_PROXY_IDENTITY_SVC_ADDR',
  'SLUICE_PROXY_IDENTITY_SVC_NAME',
] as const;
const DISABLED = 'SLUICE_PROXY_IDENTITY_DISABLED';

/** A DNS-like name: lower-case labels of letters, digits and hyphens, at most 253 octets. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Every certificate of a PEM bundle; throws ConfigError naming the block that does not parse. */
export function parseTrustAnchors(variable: string, pem: string): X509Certificate[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]);
  const shown = pem.length > 60 ? `${pem.slice(0, 60)}…` : pem;
  if (blocks.length === 0) throw new ConfigError(variable, shown, 'expected PEM certificates (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block, index) => {
    let certificate: X509Certificate;
    try {
      // Loaded only when identity is configured: a proxy without it never loads node:crypto.
      certificate = new (process.getBuiltinModule('node:crypto').X509Certificate)(block);
    } catch (error) {
      throw new ConfigError(variable, shown, `certificate ${index + 1} of ${blocks.length} does not parse: ${(error as Error).message}`);
    }
    if (!certificate.ca) throw new ConfigError(variable, shown, `certificate ${index + 1} of ${blocks.length} (${certificate.subject}) is not a CA`);
    return certificate;
  });
}

/** `value` when it is an identity name (DNS-like, lower case); ConfigError naming `variable` otherwise. */
export function identityNameVariable(variable: string, value: string): string {
  return dnsName(variable, value);
}

function dnsName(variable: string, value: string): string {
  if (!DNS_NAME.test(value)) throw new ConfigError(variable, value, 'expected a DNS-like identity name such as web.shop.serviceaccount.identity.sluice.cluster.local');
  return value;
}

/** The identity settings, or undefined when identity is off; throws ConfigError naming the variable. */
export function parseIdentityConfig(env: Env): IdentityConfig | undefined {
  const disabled = read(env, DISABLED);
  if (disabled !== undefined && parseBool(DISABLED, disabled)) return undefined;
  const given = VARIABLES.filter((name) => read(env, name) !== undefined);
  if (given.length === 0) {
    if (disabled !== undefined) {
      throw new ConfigError(DISABLED, disabled, `identity is enabled but not configured: set ${VARIABLES.join(', ')}`);
    }
    return undefined;
  }
  const missing = VARIABLES.filter((name) => read(env, name) === undefined);
  if (missing.length > 0) {
    const first = given[0] as string;
    throw new ConfigError(
      first,
      read(env, first) ?? '',
      `identity needs all of its variables: also set ${missing.join(', ')} (or set ${DISABLED}=true to run without identity)`,
    );
  }
  const value = (name: (typeof VARIABLES)[number]): string => read(env, name) as string;
  const anchorsPem = value('SLUICE_PROXY_IDENTITY_TRUST_ANCHORS');
  parseTrustAnchors('SLUICE_PROXY_IDENTITY_TRUST_ANCHORS', anchorsPem);
  const svcAddr = parseHostPort('SLUICE_PROXY_IDENTITY_SVC_ADDR', value('SLUICE_PROXY_IDENTITY_SVC_ADDR'));
  if (svcAddr.port === 0) throw new ConfigError('SLUICE_PROXY_IDENTITY_SVC_ADDR', value('SLUICE_PROXY_IDENTITY_SVC_ADDR'), 'the port cannot be 0');
  return {
    dir: value('SLUICE_PROXY_IDENTITY_DIR'),
    // Kubernetes env values keep their newlines; a trailing one matters to no parser.
    trustAnchorsPem: `${anchorsPem}\n`,
    tokenFile: value('SLUICE_PROXY_IDENTITY_TOKEN_FILE'),
    localName: dnsName('SLUICE_PROXY_IDENTITY_LOCAL_NAME', value('SLUICE_PROXY_IDENTITY_LOCAL_NAME')),
    svcAddr,
    svcName: dnsName('SLUICE_PROXY_IDENTITY_SVC_NAME', value('SLUICE_PROXY_IDENTITY_SVC_NAME')),
  };
}

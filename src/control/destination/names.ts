// Pure parsing of what proxies send in `GetDestination`: the `path` authority (`host:port`) and the
// `context_token` that tells the controller who is asking.
import net from 'node:net';

/** The default port when an authority has none (Linkerd: 80). */
export const DEFAULT_PORT = 80;

export type Authority =
  | {
      readonly kind: 'service';
      readonly namespace: string;
      readonly service: string;
      readonly port: number;
      /** `<instance>.<svc>.<ns>.svc.<domain>`: one pod of a headless Service (StatefulSet hostname). */
      readonly instance: string | undefined;
      /** `<svc>.<ns>.svc.<domain>`, lower case, no trailing dot: the ServiceProfile name. */
      readonly fqdn: string;
    }
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number };

/** The authority is not something the Destination API can answer (→ gRPC `InvalidArgument`). */
export class AuthorityError extends Error {
  constructor(path: string, reason: string) {
    super(`invalid authority ${JSON.stringify(path)}: ${reason}`);
    this.name = 'AuthorityError';
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS-1123 label (namespace, Service and pod hostnames): lower case, digits, `-`, 1–63 chars. */
export function isDnsLabel(text: string): boolean {
  return DNS_LABEL.test(text);
}

function parsePort(path: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new AuthorityError(path, `port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new AuthorityError(path, `port ${port} is out of range 1–65535`);
  return port;
}

/** Splits `host:port`, `[v6]:port`, `host` and bare IPv6 (`::1`, port 80 like Linkerd). */
export function splitHostPort(path: string): { host: string; port: number } {
  if (path === '') throw new AuthorityError(path, 'empty');
  if (path.startsWith('[')) {
    const close = path.indexOf(']');
    if (close < 0) throw new AuthorityError(path, 'missing "]"');
    const host = path.slice(1, close);
    const rest = path.slice(close + 1);
    if (rest === '') return { host, port: DEFAULT_PORT };
    if (!rest.startsWith(':')) throw new AuthorityError(path, 'expected ":" after "]"');
    return { host, port: parsePort(path, rest.slice(1)) };
  }
  const colons = path.split(':').length - 1;
  if (colons === 0) return { host: path, port: DEFAULT_PORT };
  if (colons > 1) return { host: path, port: DEFAULT_PORT }; // a bare IPv6 address
  const at = path.lastIndexOf(':');
  return { host: path.slice(0, at), port: parsePort(path, path.slice(at + 1)) };
}

/** Lower case, without a trailing dot. */
export function normalizeDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Parses `GetDestination.path`. A name must be a Kubernetes Service name in the cluster domain:
 * `<svc>.<ns>.svc.<clusterDomain>[:port]` or `<pod-hostname>.<svc>.<ns>.svc.<clusterDomain>[:port]`;
 * upper case and one trailing dot are accepted. An IP address gives `{kind: 'ip'}`.
 * Anything else throws `AuthorityError`.
 */
export function parseAuthority(path: string, clusterDomain: string): Authority {
  const { host: rawHost, port } = splitHostPort(path.trim());
  if (rawHost.includes('%')) throw new AuthorityError(path, 'IPv6 zone identifiers are not supported');
  if (net.isIP(rawHost) !== 0) return { kind: 'ip', ip: rawHost, port };
  if (rawHost.includes(':')) throw new AuthorityError(path, 'not an IP address or a name');
  const host = normalizeDomain(rawHost);
  if (host === '') throw new AuthorityError(path, 'empty host');
  const domain = normalizeDomain(clusterDomain);
  const suffix = `.svc.${domain}`;
  if (!host.endsWith(suffix)) {
    throw new AuthorityError(path, `not a Service name (<svc>.<namespace>.svc.${domain})`);
  }
  const labels = host.slice(0, -suffix.length).split('.');
  if (labels.length < 2 || labels.length > 3) {
    throw new AuthorityError(path, `not a Service name (<svc>.<namespace>.svc.${domain})`);
  }
  for (const label of labels) {
    if (!isDnsLabel(label)) throw new AuthorityError(path, `${JSON.stringify(label)} is not a DNS label`);
  }
  const [instance, service, namespace] = (labels.length === 3 ? labels : [undefined, ...labels]) as [
    string | undefined,
    string,
    string,
  ];
  return { kind: 'service', namespace, service, port, instance, fqdn: `${service}.${namespace}.svc.${domain}` };
}

/** What the proxy says about itself in `context_token`. */
export interface ContextToken {
  readonly ns: string | undefined;
  readonly nodeName: string | undefined;
  readonly pod: string | undefined;
}

const EMPTY_TOKEN: ContextToken = { ns: undefined, nodeName: undefined, pod: undefined };

/**
 * `{"ns":"<ns>","nodeName":"<node>","pod":"<pod>"}` (Linkerd ≥ 2.10) or the legacy `ns:<namespace>`.
 * Anything unreadable is treated as no token (the request is still answered, without preferences).
 */
export function parseContextToken(token: string | undefined): ContextToken {
  const text = (token ?? '').trim();
  if (text === '') return EMPTY_TOKEN;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return EMPTY_TOKEN;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return EMPTY_TOKEN;
    const record = parsed as Record<string, unknown>;
    const str = (key: string): string | undefined => {
      const value = record[key];
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    const ns = str('ns');
    return { ns: ns !== undefined && isDnsLabel(ns) ? ns : undefined, nodeName: str('nodeName'), pod: str('pod') };
  }
  if (text.startsWith('ns:')) {
    const ns = text.slice(3);
    return isDnsLabel(ns) ? { ...EMPTY_TOKEN, ns } : EMPTY_TOKEN;
  }
  return EMPTY_TOKEN;
}

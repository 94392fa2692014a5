// Server and ServerAuthorization, Sluice's twins of Linkerd's policy.linkerd.io/v1beta1 resources
// (group policy.sluice.dev): their shape, and validation that names the field at fault. The same shape
// comes from Kubernetes (the CRDs `sluice install` adds) and from the local mesh's file (`policy:`),
// so a resource can be copied from one to the other. Pure.
import { parseNetwork } from '../../config/networks.ts';

export const POLICY_GROUP = 'policy.sluice.dev';
export const POLICY_VERSION = 'v1beta1';

export type ProxyProtocol = 'unknown' | 'HTTP/1' | 'HTTP/2' | 'gRPC' | 'opaque' | 'TLS';
export const PROXY_PROTOCOLS: readonly ProxyProtocol[] = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: readonly string[] }[];
}

export interface ServerResource {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly podSelector: LabelSelector;
  /** A port number, or the name of a container port. */
  readonly port: number | string;
  readonly proxyProtocol: ProxyProtocol;
}

export interface ServerAuthorizationResource {
  readonly name: string;
  readonly namespace: string;
  /** The Server it is for: by name, or every Server whose labels the selector matches. */
  readonly server: { readonly name?: string; readonly selector?: LabelSelector };
  readonly client: {
    /** Clients from anywhere in `networks`, with or without identity. */
    readonly unauthenticated: boolean;
    readonly meshTLS?: {
      /** Any mesh TLS client, even without a certificate. */
      readonly unauthenticatedTLS?: boolean;
      /** Exact names; `*` is anyone; `*.suffix` anyone whose name ends in `.suffix`. */
      readonly identities?: readonly string[];
      /** Service accounts; the namespace defaults to the ServerAuthorization's own. */
      readonly serviceAccounts?: readonly { readonly name: string; readonly namespace?: string }[];
    };
    /** CIDRs the client's address must be in; default everywhere. */
    readonly networks?: readonly { readonly cidr: string; readonly except?: readonly string[] }[];
  };
}

export interface PolicyResources {
  readonly servers: readonly ServerResource[];
  readonly authorizations: readonly ServerAuthorizationResource[];
}

export const NO_POLICY_RESOURCES: PolicyResources = { servers: [], authorizations: [] };

/** A resource that does not validate: `path` is the field (`spec.port`), `message` what is wrong with it. */
export class PolicyResourceError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'PolicyResourceError';
    this.path = path;
  }
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown, path: string): Obj {
  if (!isObj(value)) throw new PolicyResourceError(path, 'expected a mapping');
  return value;
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new PolicyResourceError(path, 'expected a non-empty string');
  return value;
}

function strings(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) throw new PolicyResourceError(path, 'expected a list');
  return value.map((v, i) => str(v, `${path}[${i}]`));
}

function stringMap(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  const map = obj(value, path);
  for (const [k, v] of Object.entries(map)) str(v, `${path}.${k}`);
  return map as Record<string, string>;
}

function selector(value: unknown, path: string): LabelSelector {
  const sel = obj(value, path);
  const matchLabels = stringMap(sel['matchLabels'], `${path}.matchLabels`);
  const expressions = sel['matchExpressions'] === undefined ? [] : sel['matchExpressions'];
  if (!Array.isArray(expressions)) throw new PolicyResourceError(`${path}.matchExpressions`, 'expected a list');
  const matchExpressions = expressions.map((e, i) => {
    const at = `${path}.matchExpressions[${i}]`;
    const expr = obj(e, at);
    const operator = expr['operator'];
    if (operator !== 'In' && operator !== 'NotIn' && operator !== 'Exists' && operator !== 'DoesNotExist') {
      throw new PolicyResourceError(`${at}.operator`, 'expected In, NotIn, Exists or DoesNotExist');
    }
    const values = expr['values'] === undefined ? [] : strings(expr['values'], `${at}.values`);
    return { key: str(expr['key'], `${at}.key`), operator, values } as const;
  });
  return { matchLabels, matchExpressions };
}

function metadata(value: Obj): { name: string; namespace: string; labels: Record<string, string> } {
  const meta = obj(value['metadata'], 'metadata');
  return {
    name: str(meta['name'], 'metadata.name'),
    namespace: typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : 'default',
    labels: stringMap(meta['labels'], 'metadata.labels'),
  };
}

/** A CIDR such as 10.0.0.0/8 or fd00::/8 (a bare address is a host). */
function cidr(value: unknown, path: string): string {
  const text = str(value, path);
  try {
    parseNetwork(path, text, text);
  } catch {
    throw new PolicyResourceError(path, `${JSON.stringify(text)} is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
  }
  return text;
}

export function parseServer(value: unknown): ServerResource {
  const resource = obj(value, '(resource)');
  const meta = metadata(resource);
  const spec = obj(resource['spec'], 'spec');
  const port = spec['port'];
  if (!(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) && !(typeof port === 'string' && /^[a-z0-9]([-a-z0-9]{0,13})$/.test(port))) {
    throw new PolicyResourceError('spec.port', 'expected a port number 1–65535 or a container port name');
  }
  const protocol = spec['proxyProtocol'] ?? 'unknown';
  if (!(PROXY_PROTOCOLS as readonly unknown[]).includes(protocol)) throw new PolicyResourceError('spec.proxyProtocol', `expected one of ${PROXY_PROTOCOLS.join(', ')}`);
  return { ...meta, podSelector: selector(spec['podSelector'], 'spec.podSelector'), port, proxyProtocol: protocol as ProxyProtocol };
}

export function parseServerAuthorization(value: unknown): ServerAuthorizationResource {
  const resource = obj(value, '(resource)');
  const { name, namespace } = metadata(resource);
  const spec = obj(resource['spec'], 'spec');
  const serverRef = obj(spec['server'], 'spec.server');
  const server =
    serverRef['name'] !== undefined ? { name: str(serverRef['name'], 'spec.server.name') } : serverRef['selector'] !== undefined ? { selector: selector(serverRef['selector'], 'spec.server.selector') } : undefined;
  if (server === undefined) throw new PolicyResourceError('spec.server', 'expected name or selector');
  const client = obj(spec['client'], 'spec.client');
  const unauthenticated = client['unauthenticated'] === true;
  let meshTLS: ServerAuthorizationResource['client']['meshTLS'];
  if (client['meshTLS'] !== undefined) {
    const mesh = obj(client['meshTLS'], 'spec.client.meshTLS');
    const accounts = mesh['serviceAccounts'];
    if (accounts !== undefined && !Array.isArray(accounts)) throw new PolicyResourceError('spec.client.meshTLS.serviceAccounts', 'expected a list');
    meshTLS = {
      unauthenticatedTLS: mesh['unauthenticatedTLS'] === true,
      identities: mesh['identities'] === undefined ? [] : strings(mesh['identities'], 'spec.client.meshTLS.identities'),
      serviceAccounts: (accounts ?? []).map((a: unknown, i: number) => {
        const at = `spec.client.meshTLS.serviceAccounts[${i}]`;
        const account = obj(a, at);
        return { name: str(account['name'], `${at}.name`), ...(account['namespace'] === undefined ? {} : { namespace: str(account['namespace'], `${at}.namespace`) }) };
      }),
    };
  }
  if (!unauthenticated && meshTLS === undefined) throw new PolicyResourceError('spec.client', 'expected unauthenticated: true or meshTLS');
  const rawNetworks = client['networks'];
  if (rawNetworks !== undefined && !Array.isArray(rawNetworks)) throw new PolicyResourceError('spec.client.networks', 'expected a list');
  const networks = rawNetworks?.map((n: unknown, i: number) => {
    const at = `spec.client.networks[${i}]`;
    const network = obj(n, at);
    const except = network['except'] === undefined ? [] : strings(network['except'], `${at}.except`).map((e, j) => cidr(e, `${at}.except[${j}]`));
    return { cidr: cidr(network['cidr'], `${at}.cidr`), except };
  });
  return { name, namespace, server, client: { unauthenticated, ...(meshTLS === undefined ? {} : { meshTLS }), ...(networks === undefined ? {} : { networks }) } };
}

/** Whether `labels` satisfy `selector` (Kubernetes' rules; an empty selector matches everything). */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expr.key);
    const value = labels[expr.key];
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!has || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

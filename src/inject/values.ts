// The install and inject configuration ("values"): one typed object that `sluice install` renders the
// control plane from and that `sluice inject` and the injector webhook build the sidecar from.
//
// Layers, later wins: defaults (`defaultValues(version)`) < a YAML values file (`parseValuesYaml`) <
// command-line flags (a `ValuesOverride` the command builds). Every layer is checked field by field by
// the same schema, so a bad value gets the same error wherever it comes from: the field's dotted path,
// the source, and the line and column for a file. Pure: no file, network or environment access.
import { DEFAULT_POLICIES } from '../api/inbound-policy.ts';
import { X509Certificate } from 'node:crypto';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { controllerIdentityName, identityName as sharedIdentityName, type IdentityDomain } from '../api/identity-name.ts';

export interface ImageRef {
  /** Repository without the tag, e.g. `ghcr.io/sluice-mesh/proxy`. */
  readonly name: string;
  /** The tag; defaults to the package version so CLI, controller and proxy match. */
  readonly version: string;
}

/** A Kubernetes quantity (`100m`, `1`, `128Mi`), or `''` for "not set". */
export interface RequestLimit {
  readonly request: string;
  readonly limit: string;
}

export type LogFormat = 'plain' | 'json';

export interface ProxyValues {
  readonly image: ImageRef;
  /** The proxy's UID: sluice-init exempts its traffic from redirection (Linkerd: 2102). */
  readonly uid: number;
  /** `SLUICE_PROXY_LOG`: error, warn, info, debug, trace (a Linkerd filter is accepted too). */
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly resources: { readonly cpu: RequestLimit; readonly memory: RequestLimit };
  readonly ports: { readonly inbound: number; readonly outbound: number; readonly admin: number; readonly tap: number };
  /** Inbound ports forwarded as opaque TCP without protocol detection (comma list, ranges allowed). */
  readonly opaquePorts: string;
  /** Proxy first, app containers start only once it is ready (Linkerd's proxy-await). */
  readonly await: boolean;
  /** Who may connect to a port no Server describes (docs/authorization.md); the install value is the cluster default. */
  readonly defaultInboundPolicy: string;
  /** Inbound ports whose default policy admits only clients with a mesh identity (comma list, ranges allowed). */
  readonly requireIdentityInboundPorts: string;
}

export interface ProxyInitValues {
  /** sluice-init ships in the proxy image; a separate image may be named here. */
  readonly image: ImageRef;
  readonly skipInboundPorts: string;
  readonly skipOutboundPorts: string;
}

export interface Values {
  readonly controlPlaneNamespace: string;
  readonly clusterDomain: string;
  readonly identity: {
    readonly trustDomain: string;
    /** PEM of the trust anchor(s); `''` until install generates or a flag gives them. */
    readonly trustAnchorsPEM: string;
  };
  readonly controller: { readonly image: ImageRef; readonly logLevel: string };
  readonly proxy: ProxyValues;
  readonly proxyInit: ProxyInitValues;
}

type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
/** A layer over the defaults: any subset of the fields. */
export type ValuesOverride = DeepPartial<Values>;

export const IMAGE_REGISTRY = 'ghcr.io/sluice-mesh';
/** Linkerd 2.11+'s default opaque ports: protocols where the server speaks first. */
export const DEFAULT_OPAQUE_PORTS = '25,587,3306,4444,5432,6379,9300,11211';
/** Galera replication: the iptables skip list Linkerd ships (both directions). */
export const DEFAULT_SKIP_PORTS = '4567,4568';

export function defaultValues(version: string): Values {
  return {
    controlPlaneNamespace: 'sluice',
    clusterDomain: 'cluster.local',
    identity: { trustDomain: 'cluster.local', trustAnchorsPEM: '' },
    controller: { image: { name: `${IMAGE_REGISTRY}/controller`, version }, logLevel: 'info' },
    proxy: {
      image: { name: `${IMAGE_REGISTRY}/proxy`, version },
      uid: 2102,
      logLevel: 'warn,sluice=info',
      logFormat: 'plain',
      // Requests so the scheduler counts the sidecar (an idle proxy holds ~90-110 MB, docs/performance.md);
      // no limits by default: a CPU limit sets the worker count, a memory limit risks OOM under HTTP/2 load.
      resources: { cpu: { request: '100m', limit: '' }, memory: { request: '128Mi', limit: '' } },
      ports: { inbound: 4143, outbound: 4140, admin: 4191, tap: 4190 },
      opaquePorts: DEFAULT_OPAQUE_PORTS,
      await: true,
      defaultInboundPolicy: 'all-unauthenticated',
      requireIdentityInboundPorts: '',
    },
    proxyInit: {
      image: { name: `${IMAGE_REGISTRY}/proxy`, version },
      skipInboundPorts: DEFAULT_SKIP_PORTS,
      skipOutboundPorts: DEFAULT_SKIP_PORTS,
    },
  };
}

/** `name:version`. */
export function imageString(image: ImageRef): string {
  return `${image.name}:${image.version}`;
}

/** `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>` (Linkerd's identity names). */
export function identityName(values: Values, serviceAccount: string, namespace: string): string {
  return sharedIdentityName({ serviceAccount, namespace }, identityDomainOf(values));
}

/** The names' domain: the control plane's namespace and the trust domain these values install. */
export function identityDomainOf(values: Values): IdentityDomain {
  return { controlPlaneNamespace: values.controlPlaneNamespace, trustDomain: values.identity.trustDomain };
}

/** The controller's identity: Identity, Destination and tap all run in `sluice-controller`. */
export function controllerIdentity(values: Values): string {
  return controllerIdentityName(identityDomainOf(values));
}

// ── checking ────────────────────────────────────────────────────────────────────────────────────

/** A bad value: `field` is the dotted path (`proxy.resources.cpu.limit`), `where` the source. */
export class ValuesError extends Error {
  readonly field: string;
  constructor(where: string, field: string, message: string) {
    super(`${where}: ${field}: ${message}`);
    this.name = 'ValuesError';
    this.field = field;
  }
}

type Check = (value: unknown) => string | undefined; // an error message, or undefined when valid

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes quantity: number (decimal or exponent) with an optional SI or binary suffix.
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;
const IMAGE_NAME = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'];

const isString: Check = (v) => (typeof v === 'string' ? undefined : `expected a string, got ${describe(v)}`);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function both(...checks: Check[]): Check {
  return (v) => {
    for (const check of checks) {
      const error = check(v);
      if (error !== undefined) return error;
    }
    return undefined;
  };
}

const matching = (re: RegExp, what: string, allowEmpty = false): Check =>
  both(isString, (v) => ((allowEmpty && v === '') || re.test(v as string) ? undefined : `${JSON.stringify(v)} is not ${what}`));

const dnsLabel = matching(DNS_LABEL, 'a DNS label (lower-case letters, digits and -)');
const dnsName = matching(DNS_NAME, 'a DNS name (lower-case letters, digits, - and .)');
const quantity = matching(QUANTITY, 'a Kubernetes quantity (e.g. 100m, 1, 128Mi) or ""', true);
const imageName = matching(IMAGE_NAME, 'an image repository (e.g. ghcr.io/sluice-mesh/proxy, no tag)');
const imageTag = matching(TAG, 'an image tag (letters, digits, _ . -; at most 128)');

const logLevel: Check = both(isString, (v) => {
  // The proxy takes a Linkerd-style filter and uses its first bare level (docs/configuration.md).
  const bare = (v as string).split(',').map((d) => d.trim().toLowerCase()).filter((d) => !d.includes('='));
  return bare.every((d) => LOG_LEVELS.includes(d)) && (v as string).trim() !== ''
    ? undefined
    : `${JSON.stringify(v)} is not a log level (${LOG_LEVELS.join(', ')}) or a filter such as warn,sluice=info`;
});

const logFormat: Check = (v) => (v === 'plain' || v === 'json' ? undefined : `${describe(v)} is not plain or json`);
const defaultInboundPolicy: Check = (v) =>
  typeof v === 'string' && (DEFAULT_POLICIES as readonly string[]).includes(v) ? undefined : `${JSON.stringify(v)} is not one of ${DEFAULT_POLICIES.join(', ')}`;
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${describe(v)}`);

function integer(min: number, max: number): Check {
  return (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `expected an integer ${min}–${max}, got ${describe(v)}`);
}

/** Normalises a port list given as `"25,587"`, a number, or a list of ports/ranges; an error string otherwise. */
export function normalisePortList(v: unknown): { ports: string } | { error: string } {
  let items: unknown[];
  if (typeof v === 'string') items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  else if (typeof v === 'number') items = [v];
  else if (Array.isArray(v)) items = v;
  else return { error: `expected a port list such as "25,8000-8100", got ${describe(v)}` };
  const out: string[] = [];
  for (const item of items) {
    const text = typeof item === 'number' ? String(item) : typeof item === 'string' ? item.trim() : undefined;
    const m = text === undefined ? null : /^([0-9]+)(?:-([0-9]+))?$/.exec(text);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (m === null || from < 1 || to > 65535 || from > to) {
      return { error: `${describe(item)} is not a port (1–65535) or a range low-high` };
    }
    out.push(text as string);
  }
  return { ports: out.join(',') };
}

const portList: Check = (v) => {
  const r = normalisePortList(v);
  return 'error' in r ? r.error : undefined;
};

const trustAnchors: Check = both(isString, (v) => {
  const pem = v as string;
  if (pem === '') return undefined;
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return 'is not a PEM certificate bundle (no BEGIN CERTIFICATE)';
  try {
    new X509Certificate(pem);
  } catch (error) {
    return `is not a valid PEM certificate: ${(error as Error).message}`;
  }
  return undefined;
});

type Schema = { readonly [key: string]: Schema | Check };

const imageSchema: Schema = { name: imageName, version: imageTag };
const requestLimitSchema: Schema = { request: quantity, limit: quantity };

/** The shape of `Values`, each leaf with its check: the one place a field's rules live. */
const SCHEMA: Schema = {
  controlPlaneNamespace: dnsLabel,
  clusterDomain: dnsName,
  identity: { trustDomain: dnsName, trustAnchorsPEM: trustAnchors },
  controller: { image: imageSchema, logLevel },
  proxy: {
    image: imageSchema,
    uid: integer(1, 2 ** 31 - 1),
    logLevel,
    logFormat,
    resources: { cpu: requestLimitSchema, memory: requestLimitSchema },
    ports: { inbound: integer(1, 65535), outbound: integer(1, 65535), admin: integer(1, 65535), tap: integer(1, 65535) },
    opaquePorts: portList,
    await: bool,
    defaultInboundPolicy,
    requireIdentityInboundPorts: portList,
  },
  proxyInit: { image: imageSchema, skipInboundPorts: portList, skipOutboundPorts: portList },
};

/** Where a field came from, for error messages: a source name and, for files, a position lookup. */
export interface ValuesSource {
  readonly name: string;
  readonly positionOf?: (path: readonly string[]) => { line: number; col: number } | undefined;
}

function fail(source: ValuesSource, path: readonly string[], message: string): never {
  const pos = source.positionOf?.(path);
  const where = pos === undefined ? source.name : `${source.name}:${pos.line}:${pos.col}`;
  throw new ValuesError(where, path.join('.') || '(top level)', message);
}

function checkLayer(value: unknown, schema: Schema, path: string[], source: ValuesSource): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, path, `expected a mapping, got ${describe(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const here = [...path, key];
    const rule = schema[key];
    if (rule === undefined) {
      fail(source, here, `unknown field (known here: ${Object.keys(schema).join(', ')})`);
    }
    if (item === undefined) continue;
    if (typeof rule === 'function') {
      const error = rule(item);
      if (error !== undefined) fail(source, here, error);
      // Port lists are kept in one canonical form whatever shape they were written in.
      out[key] = rule === portList ? (normalisePortList(item) as { ports: string }).ports : item;
    } else {
      out[key] = checkLayer(item, rule, here, source);
    }
  }
  return out;
}

/** Checks a layer (flags, or an already-parsed object); returns it with port lists normalised. */
export function checkValuesOverride(value: unknown, source: ValuesSource): ValuesOverride {
  return checkLayer(value, SCHEMA, [], source) as ValuesOverride;
}

/**
 * Parses a values file (YAML or JSON). Errors name the field, the file, line and column. An empty
 * file is an empty layer.
 */
export function parseValuesYaml(text: string, fileName: string): ValuesOverride {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const pos = lineCounter.linePos(firstError.pos[0]);
    throw new ValuesError(`${fileName}:${pos.line}:${pos.col}`, '(file)', `not valid YAML: ${firstError.message.split('\n')[0]}`);
  }
  const positionOf = (path: readonly string[]): { line: number; col: number } | undefined => {
    // The deepest node on the path that exists: a bad value points at itself, a bad mapping at its start.
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      const start = isNode(node) ? node.range?.[0] : undefined;
      if (start !== undefined) return lineCounter.linePos(start);
    }
    return undefined;
  };
  const js: unknown = doc.toJS();
  if (js === null || js === undefined) return {};
  return checkValuesOverride(js, { name: fileName, positionOf });
}

function mergeInto(base: Record<string, unknown>, layer: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null
        ? mergeInto(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** Defaults, then each layer in order (later wins field by field). Layers must be checked already. */
export function mergeValues(defaults: Values, ...layers: readonly ValuesOverride[]): Values {
  let merged = defaults as unknown as Record<string, unknown>;
  for (const layer of layers) merged = mergeInto(merged, layer as Record<string, unknown>);
  return merged as unknown as Values;
}

/** Values for injection must carry trust anchors: proxies cannot verify anyone without them. */
export function requireTrustAnchors(values: Values): string {
  if (values.identity.trustAnchorsPEM.trim() === '') {
    throw new ValuesError('values', 'identity.trustAnchorsPEM', 'no trust anchors given (sluice install generates them)');
  }
  return values.identity.trustAnchorsPEM;
}

// The discovery file: parsing (YAML), validation with line/column positions, and the model the
// FileDiscovery backend answers from. Pure: text in, model (or a DiscoveryFileError) out.
// The format is described in README.md beside this file.
import { NO_POLICY_RESOURCES, parseServer, parseServerAuthorization, PolicyResourceError, type PolicyResources, type ServerAuthorizationResource, type ServerResource } from '../../policy/resources.ts';
import net from 'node:net';
import { LineCounter, parseDocument, type Document } from 'yaml';
import {
  TranslateError,
  parseGoDuration,
  quantityToMilli,
  toRequestMatch,
  toResponseMatch,
  toRetryBudget,
  toRoute,
} from '../../destination/profile-translate.ts';
import type {
  Endpoint,
  PodInfo,
  ProfileSpec,
  RequestMatchSpec,
  ResponseMatchSpec,
  RouteSpec,
  ServiceName,
  ServiceState,
} from '../types.ts';
import { identityName } from '../../../api/identity-name.ts';
import { canonicalIp } from '../../destination/addr.ts';

export interface ParseOptions {
  readonly clusterDomain: string;
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
}

export interface PortModel {
  readonly port: number;
  readonly targetPort: number;
  readonly name: string | undefined;
}

export interface EndpointModel {
  readonly ip: string;
  /** The endpoint's own port, for a Service with one port (or none); undefined = the target port. */
  readonly port: number | undefined;
  /** Per Service port (by number): the endpoint's own port, for multi-port Services. */
  readonly ports: ReadonlyMap<number, number>;
  readonly weight: number;
  readonly zone: string | undefined;
  /** The pod behind the endpoint (declared under `pods` or described inline). */
  readonly pod: PodInfo | undefined;
  /** Meshed although no pod is named (an endpoint given by address only). */
  readonly meshed: boolean;
  readonly serviceAccount: string;
  readonly namespace: string;
}

export interface ServiceModel {
  readonly namespace: string;
  readonly name: string;
  /** The Service's cluster IPs (canonical text); GetProfile on `<clusterIP>:<port>` means this Service. */
  readonly clusterIPs: readonly string[];
  /** Empty = any port, each going to the same port on the endpoints. */
  readonly ports: readonly PortModel[];
  readonly endpoints: readonly EndpointModel[];
}

export interface DiscoveryModel {
  readonly namespaces: ReadonlySet<string>;
  /** By `namespace/name`. */
  readonly services: ReadonlyMap<string, ServiceModel>;
  readonly pods: readonly PodInfo[];
  /** By `namespace/<profile name>` (the profile name is a Service FQDN). */
  readonly profiles: ReadonlyMap<string, ProfileSpec>;
  /** Cluster IP (canonical text) → its Service. */
  readonly serviceIps: ReadonlyMap<string, ServiceName>;
  /** Server and ServerAuthorization resources (`policy:`), for the inbound policy API. */
  readonly policy: PolicyResources;
}

export const EMPTY_MODEL: DiscoveryModel = {
  namespaces: new Set(),
  services: new Map(),
  pods: [],
  profiles: new Map(),
  serviceIps: new Map(),
  policy: NO_POLICY_RESOURCES,
};

type Path = ReadonlyArray<string | number>;

export interface Problem {
  readonly message: string;
  readonly path: string;
  readonly line: number | undefined;
  readonly col: number | undefined;
}

/** The file cannot be used; `problems` are sorted by position, the message lists the first ten. */
export class DiscoveryFileError extends Error {
  readonly problems: readonly Problem[];
  constructor(source: string, problems: readonly Problem[]) {
    const lines = problems
      .slice(0, 10)
      .map((p) => `${source}:${p.line ?? '?'}:${p.col ?? '?'}: ${p.message}${p.path === '' ? '' : ` (at ${p.path})`}`);
    if (problems.length > 10) lines.push(`… and ${problems.length - 10} more`);
    super(lines.join('\n'));
    this.name = 'DiscoveryFileError';
    this.problems = problems;
  }
}

function formatPath(path: Path): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? part : `.${part}`;
  }
  return text;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const OWNER_KINDS: Readonly<Record<string, string>> = {
  deployment: 'Deployment',
  statefulset: 'StatefulSet',
  daemonset: 'DaemonSet',
  replicaset: 'ReplicaSet',
  replicationcontroller: 'ReplicationController',
  job: 'Job',
  cronjob: 'CronJob',
};

const DEFAULT_WEIGHT = 10_000;

/** Collects problems while reading the plain value the YAML parser produced. */
class Reader {
  readonly problems: Array<{ path: Path; message: string; atKey: boolean }> = [];

  fail(path: Path, message: string, atKey = false): undefined {
    this.problems.push({ path, message, atKey });
    return undefined;
  }

  /** A mapping with only `allowed` keys (null/absent → `{}` when `optional`). */
  map(value: unknown, path: Path, allowed: readonly string[] | 'any', what: string): Record<string, unknown> | undefined {
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value) || value instanceof Map) {
      return this.fail(path, `${what} must be a mapping`);
    }
    const record = value as Record<string, unknown>;
    if (allowed !== 'any') {
      for (const key of Object.keys(record)) {
        if (!allowed.includes(key)) {
          this.fail([...path, key], `unknown field ${JSON.stringify(key)} in ${what} (expected ${allowed.join(', ')})`, true);
        }
      }
    }
    return record;
  }

  list(value: unknown, path: Path, what: string): unknown[] | undefined {
    if (value === null || value === undefined) return [];
    if (!Array.isArray(value)) return this.fail(path, `${what} must be a list`);
    return value;
  }

  string(value: unknown, path: Path, what: string): string | undefined {
    if (typeof value === 'number') return String(value);
    if (typeof value !== 'string' || value === '') return this.fail(path, `${what} must be a non-empty string`);
    return value;
  }

  bool(value: unknown, path: Path, what: string): boolean | undefined {
    if (typeof value !== 'boolean') return this.fail(path, `${what} must be true or false`);
    return value;
  }

  int(value: unknown, path: Path, what: string, min: number, max: number): number | undefined {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      return this.fail(path, `${what} must be a whole number from ${min} to ${max}`);
    }
    return n;
  }

  port(value: unknown, path: Path, what: string): number | undefined {
    return this.int(value, path, what, 1, 65535);
  }

  ip(value: unknown, path: Path, what = 'ip'): string | undefined {
    if (typeof value !== 'string' || net.isIP(value) === 0 || value.includes('%')) {
      return this.fail(path, `${what} must be an IPv4 or IPv6 address`);
    }
    return value;
  }

  label(value: string, path: Path, what: string, atKey = true): boolean {
    if (DNS_LABEL.test(value)) return true;
    this.fail(path, `${what} ${JSON.stringify(value)} must be a DNS label (lower case letters, digits, "-")`, atKey);
    return false;
  }
}

/** `ip`, `ip:port` or `[v6]:port`. */
function parseAddress(text: string): { ip: string; port: number | undefined } | undefined {
  if (text.includes('%')) return undefined; // no IPv6 zone identifiers
  if (net.isIP(text) !== 0) return { ip: text, port: undefined };
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const ip = match[1] as string;
  const port = Number(match[2]);
  if (net.isIP(ip) === 0 || port < 1 || port > 65535) return undefined;
  return { ip, port };
}

function readOwner(r: Reader, value: unknown, path: Path): PodInfo['owner'] {
  let kind: string | undefined;
  let name: string | undefined;
  if (typeof value === 'string') {
    const slash = value.indexOf('/');
    if (slash <= 0 || slash === value.length - 1) {
      return r.fail(path, 'owner must be "<kind>/<name>" (e.g. deployment/web) or {kind, name}');
    }
    kind = value.slice(0, slash);
    name = value.slice(slash + 1);
  } else {
    const record = r.map(value, path, ['kind', 'name'], 'owner');
    if (record === undefined) return undefined;
    kind = r.string(record['kind'], [...path, 'kind'], 'owner kind');
    name = r.string(record['name'], [...path, 'name'], 'owner name');
    if (kind === undefined || name === undefined) return undefined;
  }
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(kind)) return r.fail(path, `owner kind ${JSON.stringify(kind)} is not a kind`);
  if (!DNS_SUBDOMAIN.test(name)) return r.fail(path, `owner name ${JSON.stringify(name)} is not a Kubernetes name`);
  return { kind: OWNER_KINDS[kind.toLowerCase()] ?? kind, name };
}

interface PodFields {
  ip: string | undefined;
  owner: PodInfo['owner'];
  serviceAccount: string | undefined;
  meshed: boolean | undefined;
  phase: string | undefined;
  labels: Record<string, string> | undefined;
}

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

function readPodFields(r: Reader, record: Record<string, unknown>, path: Path): PodFields {
  const fields: PodFields = {
    ip: undefined,
    owner: undefined,
    serviceAccount: undefined,
    meshed: undefined,
    phase: undefined,
    labels: undefined,
  };
  if (record['ip'] !== undefined) fields.ip = r.ip(record['ip'], [...path, 'ip']);
  if (record['owner'] !== undefined) fields.owner = readOwner(r, record['owner'], [...path, 'owner']);
  if (record['serviceAccount'] !== undefined) {
    const sa = r.string(record['serviceAccount'], [...path, 'serviceAccount'], 'serviceAccount');
    if (sa !== undefined && DNS_SUBDOMAIN.test(sa)) fields.serviceAccount = sa;
    else if (sa !== undefined) r.fail([...path, 'serviceAccount'], `serviceAccount ${JSON.stringify(sa)} is not a Kubernetes name`);
  }
  if (record['meshed'] !== undefined) fields.meshed = r.bool(record['meshed'], [...path, 'meshed'], 'meshed');
  if (record['phase'] !== undefined) {
    const phase = r.string(record['phase'], [...path, 'phase'], 'phase');
    if (phase !== undefined && !PHASES.includes(phase)) {
      r.fail([...path, 'phase'], `phase must be one of ${PHASES.join(', ')}`);
    } else fields.phase = phase;
  }
  if (record['labels'] !== undefined) {
    const labels = r.map(record['labels'], [...path, 'labels'], 'any', 'labels');
    if (labels !== undefined) {
      fields.labels = {};
      for (const [key, value] of Object.entries(labels)) {
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
          fields.labels[key] = String(value);
        } else r.fail([...path, 'labels', key], 'a label value must be a string');
      }
    }
  }
  return fields;
}

function samePod(a: PodInfo, b: PodInfo): boolean {
  return (
    a.ip === b.ip &&
    a.serviceAccount === b.serviceAccount &&
    a.meshed === b.meshed &&
    a.owner?.kind === b.owner?.kind &&
    a.owner?.name === b.owner?.name
  );
}

// ── ServiceProfile specs ────────────────────────────────────────────────────────────────────────────

function readRequestMatch(r: Reader, value: unknown, path: Path): RequestMatchSpec | undefined {
  const record = r.map(value, path, ['method', 'pathRegex', 'all', 'any', 'not'], 'request condition');
  if (record === undefined) return undefined;
  const spec: { -readonly [K in keyof RequestMatchSpec]: RequestMatchSpec[K] } = {};
  if (record['method'] !== undefined) spec.method = r.string(record['method'], [...path, 'method'], 'method');
  if (record['pathRegex'] !== undefined) {
    const regex = r.string(record['pathRegex'], [...path, 'pathRegex'], 'pathRegex');
    if (regex !== undefined) {
      try {
        // As the proxy compiles it: a leading Go-style `(?i)` is the case-insensitive flag.
        new RegExp(regex.startsWith('(?i)') ? regex.slice(4) : regex);
        spec.pathRegex = regex;
      } catch (error) {
        r.fail([...path, 'pathRegex'], `pathRegex is not a regular expression: ${(error as Error).message}`);
      }
    }
  }
  for (const key of ['all', 'any'] as const) {
    if (record[key] === undefined) continue;
    const items = r.list(record[key], [...path, key], key);
    if (items !== undefined) {
      spec[key] = items.map((item, i) => readRequestMatch(r, item, [...path, key, i]) ?? {});
    }
  }
  if (record['not'] !== undefined) spec.not = readRequestMatch(r, record['not'], [...path, 'not']);
  if (Object.keys(record).length === 0) r.fail(path, 'a request condition must set method, pathRegex, all, any or not');
  return spec;
}

function readResponseMatch(r: Reader, value: unknown, path: Path): ResponseMatchSpec | undefined {
  const record = r.map(value, path, ['status', 'all', 'any', 'not'], 'response condition');
  if (record === undefined) return undefined;
  const spec: { -readonly [K in keyof ResponseMatchSpec]: ResponseMatchSpec[K] } = {};
  if (record['status'] !== undefined) {
    const status = r.map(record['status'], [...path, 'status'], ['min', 'max'], 'status');
    if (status !== undefined) {
      const range: { min?: number; max?: number } = {};
      if (status['min'] !== undefined) range.min = r.int(status['min'], [...path, 'status', 'min'], 'status.min', 100, 599);
      if (status['max'] !== undefined) range.max = r.int(status['max'], [...path, 'status', 'max'], 'status.max', 100, 599);
      if ((range.min ?? 100) > (range.max ?? 599)) r.fail([...path, 'status'], 'status.min must not exceed status.max');
      spec.status = range;
    }
  }
  for (const key of ['all', 'any'] as const) {
    if (record[key] === undefined) continue;
    const items = r.list(record[key], [...path, key], key);
    if (items !== undefined) spec[key] = items.map((item, i) => readResponseMatch(r, item, [...path, key, i]) ?? {});
  }
  if (record['not'] !== undefined) spec.not = readResponseMatch(r, record['not'], [...path, 'not']);
  if (Object.keys(record).length === 0) r.fail(path, 'a response condition must set status, all, any or not');
  return spec;
}

/** Checks a ServiceProfile `spec` and returns a clean copy (only the fields Sluice knows). */
function readProfileSpec(r: Reader, value: unknown, path: Path): ProfileSpec | undefined {
  const record = r.map(value, path, ['routes', 'retryBudget', 'dstOverrides', 'opaquePorts'], 'ServiceProfile spec');
  if (record === undefined) return undefined;
  const before = r.problems.length;
  const routes: RouteSpec[] = [];
  const names = new Set<string>();
  for (const [i, item] of (r.list(record['routes'], [...path, 'routes'], 'routes') ?? []).entries()) {
    const at = [...path, 'routes', i];
    const route = r.map(item, at, ['name', 'condition', 'responseClasses', 'isRetryable', 'timeout'], 'route');
    if (route === undefined) continue;
    const name = r.string(route['name'], [...at, 'name'], 'route name');
    if (name !== undefined && names.has(name)) r.fail([...at, 'name'], `route name ${JSON.stringify(name)} is used twice`);
    if (name !== undefined) names.add(name);
    if (route['condition'] === undefined) r.fail(at, 'a route needs a condition');
    const condition = readRequestMatch(r, route['condition'], [...at, 'condition']);
    const responseClasses: Array<{ condition: ResponseMatchSpec; isFailure?: boolean }> = [];
    for (const [j, rc] of (r.list(route['responseClasses'], [...at, 'responseClasses'], 'responseClasses') ?? []).entries()) {
      const rcPath = [...at, 'responseClasses', j];
      const rcRecord = r.map(rc, rcPath, ['condition', 'isFailure'], 'response class');
      if (rcRecord === undefined) continue;
      if (rcRecord['condition'] === undefined) r.fail(rcPath, 'a response class needs a condition');
      const rcCondition = readResponseMatch(r, rcRecord['condition'], [...rcPath, 'condition']);
      const isFailure =
        rcRecord['isFailure'] === undefined ? undefined : r.bool(rcRecord['isFailure'], [...rcPath, 'isFailure'], 'isFailure');
      if (rcCondition !== undefined) responseClasses.push({ condition: rcCondition, ...(isFailure !== undefined && { isFailure }) });
    }
    const isRetryable =
      route['isRetryable'] === undefined ? undefined : r.bool(route['isRetryable'], [...at, 'isRetryable'], 'isRetryable');
    let timeout: string | undefined;
    if (route['timeout'] !== undefined) {
      timeout = r.string(route['timeout'], [...at, 'timeout'], 'timeout');
      if (timeout !== undefined) {
        try {
          if (parseGoDuration(timeout) < 0) r.fail([...at, 'timeout'], 'timeout must not be negative');
        } catch (error) {
          r.fail([...at, 'timeout'], (error as Error).message);
        }
      }
    }
    if (name === undefined || condition === undefined) continue;
    const spec: RouteSpec = {
      name,
      condition,
      ...(responseClasses.length > 0 && { responseClasses }),
      ...(isRetryable !== undefined && { isRetryable }),
      ...(timeout !== undefined && { timeout }),
    };
    routes.push(spec);
  }
  let retryBudget: ProfileSpec['retryBudget'];
  if (record['retryBudget'] !== undefined) {
    const at = [...path, 'retryBudget'];
    const budget = r.map(record['retryBudget'], at, ['retryRatio', 'minRetriesPerSecond', 'ttl'], 'retryBudget');
    if (budget !== undefined) {
      for (const key of ['retryRatio', 'minRetriesPerSecond', 'ttl']) {
        if (budget[key] === undefined) r.fail(at, `retryBudget needs ${key}`);
      }
      const retryRatio = budget['retryRatio'];
      if (budget['retryRatio'] !== undefined && (typeof retryRatio !== 'number' || !(retryRatio >= 0))) {
        r.fail([...at, 'retryRatio'], 'retryRatio must be a number ≥ 0 (0.2 = 20 % extra requests)');
      }
      const minRetries =
        budget['minRetriesPerSecond'] === undefined
          ? undefined
          : r.int(budget['minRetriesPerSecond'], [...at, 'minRetriesPerSecond'], 'minRetriesPerSecond', 0, 0xffffffff);
      const ttl = budget['ttl'] === undefined ? undefined : r.string(budget['ttl'], [...at, 'ttl'], 'ttl');
      if (typeof retryRatio === 'number' && minRetries !== undefined && ttl !== undefined) {
        retryBudget = { retryRatio, minRetriesPerSecond: minRetries, ttl };
        try {
          toRetryBudget(retryBudget);
        } catch (error) {
          r.fail([...at, 'ttl'], (error as Error).message);
        }
      }
    }
  }
  const dstOverrides: Array<{ authority: string; weight: number | string }> = [];
  for (const [i, item] of (r.list(record['dstOverrides'], [...path, 'dstOverrides'], 'dstOverrides') ?? []).entries()) {
    const at = [...path, 'dstOverrides', i];
    const dst = r.map(item, at, ['authority', 'weight'], 'dstOverride');
    if (dst === undefined) continue;
    const authority = r.string(dst['authority'], [...at, 'authority'], 'authority');
    const weight = dst['weight'];
    if (typeof weight !== 'number' && typeof weight !== 'string') {
      r.fail([...at, 'weight'], 'weight must be a quantity such as 500m, 1 or 0.5');
      continue;
    }
    try {
      quantityToMilli(weight);
    } catch (error) {
      r.fail([...at, 'weight'], (error as Error).message);
      continue;
    }
    if (authority !== undefined) dstOverrides.push({ authority, weight });
  }
  const opaquePorts: number[] = [];
  for (const [i, item] of (r.list(record['opaquePorts'], [...path, 'opaquePorts'], 'opaquePorts') ?? []).entries()) {
    const at = [...path, 'opaquePorts', i];
    const range = typeof item === 'string' ? /^(\d{1,5})-(\d{1,5})$/.exec(item) : null;
    if (range !== null) {
      const low = r.port(range[1], at, 'opaque port range start');
      const high = r.port(range[2], at, 'opaque port range end');
      if (low !== undefined && high !== undefined) {
        if (low > high) r.fail(at, 'an opaque port range must go from low to high');
        for (let p = low; p <= high; p++) opaquePorts.push(p);
      }
      continue;
    }
    const port = r.port(item, at, 'opaque port');
    if (port !== undefined) opaquePorts.push(port);
  }
  if (r.problems.length > before) return undefined;
  // The translator's own checks (conditions, ranges) must agree with the reader's: a file that passes
  // here always translates without warnings.
  for (const [i, route] of routes.entries()) {
    try {
      toRoute(route);
      toRequestMatch(route.condition);
      for (const rc of route.responseClasses ?? []) toResponseMatch(rc.condition);
    } catch (error) {
      if (!(error instanceof TranslateError)) throw error;
      r.fail([...path, 'routes', i], error.message);
    }
  }
  return {
    ...(routes.length > 0 && { routes }),
    ...(retryBudget !== undefined && { retryBudget }),
    ...(dstOverrides.length > 0 && { dstOverrides }),
    ...(opaquePorts.length > 0 && { opaquePorts }),
  };
}

// ── The whole file ──────────────────────────────────────────────────────────────────────────────────

function profileName(key: string, namespace: string, clusterDomain: string): string {
  return key.includes('.') ? key.toLowerCase().replace(/\.$/, '') : `${key}.${namespace}.svc.${clusterDomain}`;
}

interface Context {
  readonly r: Reader;
  readonly options: ParseOptions;
  readonly namespaces: Set<string>;
  readonly services: Map<string, ServiceModel>;
  readonly pods: Map<string, { pod: PodInfo; declared: boolean }>;
  readonly profiles: Map<string, ProfileSpec>;
  readonly serviceIps: Map<string, ServiceName>;
}

function readNamespace(c: Context, ns: string, value: unknown, path: Path): void {
  const { r } = c;
  const record = r.map(value, path, ['services', 'pods', 'profiles'], `namespace ${ns}`);
  if (record === undefined) return;
  // Declared pods first, so that endpoints can refer to them by name.
  const pods = r.map(record['pods'], [...path, 'pods'], 'any', 'pods');
  for (const [name, podValue] of Object.entries(pods ?? {})) {
    const at = [...path, 'pods', name];
    if (!DNS_SUBDOMAIN.test(name)) {
      r.fail(at, `pod name ${JSON.stringify(name)} is not a Kubernetes name`, true);
      continue;
    }
    const podRecord = r.map(podValue, at, ['ip', 'owner', 'serviceAccount', 'meshed', 'phase', 'labels'], `pod ${name}`);
    if (podRecord === undefined) continue;
    const f = readPodFields(r, podRecord, at);
    c.pods.set(`${ns}/${name}`, {
      declared: true,
      pod: {
        namespace: ns,
        name,
        ip: f.ip,
        owner: f.owner,
        serviceAccount: f.serviceAccount ?? 'default',
        meshed: f.meshed ?? false,
        phase: f.phase ?? 'Running',
        labels: f.labels ?? {},
      },
    });
  }
  const services = r.map(record['services'], [...path, 'services'], 'any', 'services');
  for (const [name, serviceValue] of Object.entries(services ?? {})) {
    const at = [...path, 'services', name];
    if (!r.label(name, at, 'service name')) continue;
    const service = r.map(serviceValue, at, ['clusterIP', 'ports', 'endpoints'], `service ${name}`);
    if (service === undefined) continue;
    const clusterIPs: string[] = [];
    if (service['clusterIP'] !== undefined) {
      const value = service['clusterIP'];
      const list = Array.isArray(value) ? value : [value];
      for (const [i, item] of list.entries()) {
        const ipPath = Array.isArray(value) ? [...at, 'clusterIP', i] : [...at, 'clusterIP'];
        const ip = r.ip(item, ipPath, 'clusterIP');
        if (ip === undefined) continue;
        const canonical = canonicalIp(ip);
        const owner = c.serviceIps.get(canonical);
        if (owner !== undefined) {
          r.fail(ipPath, `cluster IP ${ip} is already used by ${owner.namespace}/${owner.service}`);
          continue;
        }
        c.serviceIps.set(canonical, { namespace: ns, service: name });
        clusterIPs.push(canonical);
      }
    }
    const ports = readPorts(c, service['ports'], [...at, 'ports']);
    const endpoints: EndpointModel[] = [];
    for (const [i, item] of (r.list(service['endpoints'], [...at, 'endpoints'], 'endpoints') ?? []).entries()) {
      const endpoint = readEndpoint(c, ns, ports, item, [...at, 'endpoints', i]);
      if (endpoint !== undefined) endpoints.push(endpoint);
    }
    c.services.set(`${ns}/${name}`, { namespace: ns, name, clusterIPs, ports, endpoints });
  }
  const profiles = r.map(record['profiles'], [...path, 'profiles'], 'any', 'profiles');
  for (const [key, spec] of Object.entries(profiles ?? {})) {
    const at = [...path, 'profiles', key];
    const name = profileName(key, ns, c.options.clusterDomain);
    if (!DNS_SUBDOMAIN.test(name)) {
      r.fail(at, `profile name ${JSON.stringify(key)} is not a Service name or FQDN`, true);
      continue;
    }
    const profile = readProfileSpec(r, spec, at);
    if (profile !== undefined) c.profiles.set(`${ns}/${name}`, profile);
  }
}

function readPorts(c: Context, value: unknown, path: Path): PortModel[] {
  const { r } = c;
  const ports: PortModel[] = [];
  for (const [i, item] of (r.list(value, path, 'ports') ?? []).entries()) {
    const at = [...path, i];
    let port: PortModel | undefined;
    if (typeof item === 'number') {
      const p = r.port(item, at, 'port');
      if (p !== undefined) port = { port: p, targetPort: p, name: undefined };
    } else if (typeof item === 'string') {
      const match = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(item);
      if (match === null) {
        r.fail(at, 'a port is a number, "<port>:<targetPort>" or {port, targetPort, name}');
        continue;
      }
      const p = r.port(match[1], at, 'port');
      const t = r.port(match[2] ?? match[1], at, 'targetPort');
      if (p !== undefined && t !== undefined) port = { port: p, targetPort: t, name: undefined };
    } else {
      const record = r.map(item, at, ['port', 'targetPort', 'name'], 'port');
      if (record === undefined) continue;
      const p = r.port(record['port'], [...at, 'port'], 'port');
      if (typeof record['targetPort'] === 'string' && !/^\d+$/.test(record['targetPort'])) {
        r.fail([...at, 'targetPort'], 'named target ports are not supported here: give the number');
        continue;
      }
      const t = record['targetPort'] === undefined ? p : r.port(record['targetPort'], [...at, 'targetPort'], 'targetPort');
      let name: string | undefined;
      if (record['name'] !== undefined) {
        name = r.string(record['name'], [...at, 'name'], 'port name');
        if (name !== undefined && !r.label(name, [...at, 'name'], 'port name', false)) name = undefined;
      }
      if (p !== undefined && t !== undefined) port = { port: p, targetPort: t, name };
    }
    if (port === undefined) continue;
    if (ports.some((q) => q.port === port.port)) {
      r.fail(at, `port ${port.port} is listed twice`);
      continue;
    }
    if (port.name !== undefined && ports.some((q) => q.name === port.name)) {
      r.fail(at, `port name ${port.name} is used twice`);
      continue;
    }
    ports.push(port);
  }
  return ports;
}

const ENDPOINT_KEYS = ['ip', 'port', 'ports', 'pod', 'owner', 'serviceAccount', 'meshed', 'weight', 'zone'];

function readEndpoint(c: Context, ns: string, ports: readonly PortModel[], item: unknown, path: Path): EndpointModel | undefined {
  const { r } = c;
  if (typeof item === 'string') {
    const address = parseAddress(item);
    if (address === undefined) return r.fail(path, `${JSON.stringify(item)} is not an address (ip or ip:port)`);
    if (address.port !== undefined && ports.length > 1) {
      return r.fail(path, 'a Service with several ports needs {ip, ports: {<port>: <endpoint port>}} per endpoint');
    }
    return {
      ip: address.ip,
      port: address.port,
      ports: new Map(),
      weight: DEFAULT_WEIGHT,
      zone: undefined,
      pod: undefined,
      meshed: false,
      serviceAccount: 'default',
      namespace: ns,
    };
  }
  const record = r.map(item, path, ENDPOINT_KEYS, 'endpoint');
  if (record === undefined) return undefined;
  const before = r.problems.length;
  const f = readPodFields(r, record, path);
  let port: number | undefined;
  if (record['port'] !== undefined) {
    port = r.port(record['port'], [...path, 'port'], 'port');
    if (ports.length > 1) r.fail([...path, 'port'], 'a Service with several ports needs `ports: {<port or name>: <endpoint port>}`');
  }
  const portMap = new Map<number, number>();
  if (record['ports'] !== undefined) {
    const map = r.map(record['ports'], [...path, 'ports'], 'any', 'ports');
    for (const [key, value] of Object.entries(map ?? {})) {
      const servicePort = ports.find((p) => String(p.port) === key || p.name === key);
      if (servicePort === undefined) {
        r.fail([...path, 'ports', key], `${key} is not a port of this Service`, true);
        continue;
      }
      const target = r.port(value, [...path, 'ports', key], 'endpoint port');
      if (target !== undefined) portMap.set(servicePort.port, target);
    }
  }
  const weight = record['weight'] === undefined ? DEFAULT_WEIGHT : r.int(record['weight'], [...path, 'weight'], 'weight', 0, 0xffffffff);
  const zone = record['zone'] === undefined ? undefined : r.string(record['zone'], [...path, 'zone'], 'zone');
  let pod: PodInfo | undefined;
  if (record['pod'] !== undefined) {
    const podName = r.string(record['pod'], [...path, 'pod'], 'pod');
    if (podName !== undefined && !DNS_SUBDOMAIN.test(podName)) {
      r.fail([...path, 'pod'], `pod name ${JSON.stringify(podName)} is not a Kubernetes name`);
    } else if (podName !== undefined) {
      const key = `${ns}/${podName}`;
      const known = c.pods.get(key);
      if (known?.declared === true) {
        // A declared pod: the endpoint may repeat its fields but not contradict them.
        const p = known.pod;
        const clash = (field: string, mine: unknown, theirs: unknown): void => {
          if (mine !== undefined && mine !== theirs) {
            r.fail([...path, field], `${field} differs from pod ${podName} declared under pods`);
          }
        };
        clash('ip', f.ip, p.ip);
        clash('serviceAccount', f.serviceAccount, p.serviceAccount);
        clash('meshed', f.meshed, p.meshed);
        if (f.owner !== undefined && (f.owner.kind !== p.owner?.kind || f.owner.name !== p.owner?.name)) {
          r.fail([...path, 'owner'], `owner differs from pod ${podName} declared under pods`);
        }
        if (p.ip === undefined) r.fail([...path, 'pod'], `pod ${podName} has no ip`);
        pod = p;
      } else {
        const inline: PodInfo = {
          namespace: ns,
          name: podName,
          ip: f.ip,
          owner: f.owner,
          serviceAccount: f.serviceAccount ?? 'default',
          meshed: f.meshed ?? false,
          phase: 'Running',
          labels: {},
        };
        if (known !== undefined && !samePod(known.pod, inline)) {
          r.fail([...path, 'pod'], `pod ${podName} is described differently by another endpoint`);
        }
        if (known === undefined) c.pods.set(key, { pod: inline, declared: false });
        pod = inline;
      }
    }
  }
  const ip = pod?.ip ?? f.ip;
  if (ip === undefined && r.problems.length === before) r.fail(path, 'an endpoint needs an ip (or a pod that has one)');
  if (r.problems.length > before || ip === undefined) return undefined;
  return {
    ip,
    port,
    ports: portMap,
    weight: weight ?? DEFAULT_WEIGHT,
    zone,
    pod,
    meshed: pod?.meshed ?? f.meshed ?? false,
    serviceAccount: pod?.serviceAccount ?? f.serviceAccount ?? 'default',
    namespace: ns,
  };
}

function readServiceProfiles(c: Context, value: unknown, path: Path): void {
  const { r } = c;
  for (const [i, item] of (r.list(value, path, 'serviceProfiles') ?? []).entries()) {
    const at = [...path, i];
    const record = r.map(item, at, ['apiVersion', 'kind', 'metadata', 'spec'], 'ServiceProfile');
    if (record === undefined) continue;
    if (record['kind'] !== undefined && record['kind'] !== 'ServiceProfile') r.fail([...at, 'kind'], 'kind must be ServiceProfile');
    const apiVersion = record['apiVersion'];
    if (apiVersion !== undefined && apiVersion !== 'linkerd.io/v1alpha2' && apiVersion !== 'linkerd.io/v1alpha1') {
      r.fail([...at, 'apiVersion'], 'apiVersion must be linkerd.io/v1alpha2');
    }
    const metadata = r.map(record['metadata'], [...at, 'metadata'], 'any', 'metadata');
    if (metadata === undefined) continue;
    const name = r.string(metadata['name'], [...at, 'metadata', 'name'], 'metadata.name');
    const ns = r.string(metadata['namespace'] ?? 'default', [...at, 'metadata', 'namespace'], 'metadata.namespace');
    if (name === undefined || ns === undefined || !r.label(ns, [...at, 'metadata', 'namespace'], 'namespace', false)) continue;
    const fqdn = profileName(name, ns, c.options.clusterDomain);
    const spec = readProfileSpec(r, record['spec'], [...at, 'spec']);
    if (spec === undefined) continue;
    if (c.profiles.has(`${ns}/${fqdn}`)) {
      r.fail([...at, 'metadata', 'name'], `ServiceProfile ${fqdn} in ${ns} is defined twice`);
      continue;
    }
    c.namespaces.add(ns);
    c.profiles.set(`${ns}/${fqdn}`, spec);
  }
}

/** Where a path points in the document: the key of a mapping entry when `atKey`, else the value. */
function locate(doc: Document, path: Path, atKey: boolean): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const parentPath = path.slice(0, n);
    if (atKey && n === path.length && n > 0) {
      const parent = doc.getIn(path.slice(0, -1), true) as { items?: Array<{ key?: { range?: number[]; value?: unknown } }> };
      const last = path[path.length - 1];
      const pair = parent?.items?.find((item) => item.key !== undefined && String(item.key.value) === String(last));
      const start = pair?.key?.range?.[0];
      if (start !== undefined) return start;
    }
    const node = (parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true)) as { range?: number[] } | null;
    const start = node?.range?.[0];
    if (start !== undefined) return start;
  }
  return undefined;
}

/** Parses and checks a discovery file; throws DiscoveryFileError listing every problem with its position. */
export function parseDiscoveryFile(text: string, source: string, options: ParseOptions): DiscoveryModel {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const position = (offset: number | undefined): { line: number | undefined; col: number | undefined } => {
    if (offset === undefined) return { line: undefined, col: undefined };
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
  if (doc.errors.length > 0) {
    throw new DiscoveryFileError(
      source,
      doc.errors.map((e) => ({ message: e.message.split('\n')[0] as string, path: '', ...position(e.pos[0]) })),
    );
  }
  const r = new Reader();
  const c: Context = {
    r,
    options,
    namespaces: new Set(),
    services: new Map(),
    pods: new Map(),
    profiles: new Map(),
    serviceIps: new Map(),
  };
  const root = r.map(doc.toJS({ maxAliasCount: 1000 }), [], ['namespaces', 'serviceProfiles', 'policy'], 'the discovery file');
  let policy = NO_POLICY_RESOURCES;
  if (root !== undefined) {
    const namespaces = r.map(root['namespaces'], ['namespaces'], 'any', 'namespaces');
    for (const [ns, value] of Object.entries(namespaces ?? {})) {
      if (!r.label(ns, ['namespaces', ns], 'namespace')) continue;
      c.namespaces.add(ns);
      readNamespace(c, ns, value, ['namespaces', ns]);
    }
    readServiceProfiles(c, root['serviceProfiles'], ['serviceProfiles']);
    policy = readPolicy(r, root['policy'], ['policy']);
  }
  if (r.problems.length > 0) {
    const problems = r.problems
      .map((p) => ({ message: p.message, path: formatPath(p.path), ...position(locate(doc, p.path, p.atKey)) }))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new DiscoveryFileError(source, problems);
  }
  return {
    namespaces: c.namespaces,
    services: c.services,
    pods: [...c.pods.values()].map((entry) => entry.pod),
    profiles: c.profiles,
    serviceIps: c.serviceIps,
    policy,
  };
}

/** `policy:` — Server and ServerAuthorization resources, each as Kubernetes would hold it (src/control/policy). */
function readPolicy(r: Reader, value: unknown, path: Path): PolicyResources {
  const servers: ServerResource[] = [];
  const authorizations: ServerAuthorizationResource[] = [];
  for (const [i, item] of (r.list(value, path, 'policy') ?? []).entries()) {
    const at = [...path, i];
    const kind = (item as { kind?: unknown } | null)?.kind;
    try {
      if (kind === 'Server') servers.push(parseServer(item));
      else if (kind === 'ServerAuthorization') authorizations.push(parseServerAuthorization(item));
      else r.fail([...at, 'kind'], 'kind must be Server or ServerAuthorization');
    } catch (error) {
      if (!(error instanceof PolicyResourceError)) throw error;
      r.fail(at, `${String(kind)}: ${error.message}`);
    }
  }
  return { servers, authorizations };
}

// ── Answers from the model ──────────────────────────────────────────────────────────────────────────

function endpointFor(model: EndpointModel, servicePort: PortModel | undefined, port: number, options: ParseOptions): Endpoint {
  const target = model.ports.get(port) ?? model.port ?? servicePort?.targetPort ?? port;
  const labels: Record<string, string> = {};
  const pod = model.pod;
  if (pod !== undefined) {
    labels['namespace'] = pod.namespace;
    labels['pod'] = pod.name;
    labels['serviceaccount'] = pod.serviceAccount;
    if (pod.owner !== undefined) labels[pod.owner.kind.toLowerCase()] = pod.owner.name;
    const hash = pod.labels['pod-template-hash'];
    if (hash !== undefined) labels['pod_template_hash'] = hash;
  } else if (model.meshed) {
    labels['namespace'] = model.namespace;
    labels['serviceaccount'] = model.serviceAccount;
  }
  if (model.meshed) labels['control_plane_ns'] = options.controlPlaneNamespace;
  if (model.zone !== undefined) labels['zone'] = model.zone;
  const identity = model.meshed
    ? identityName({ serviceAccount: model.serviceAccount, namespace: pod?.namespace ?? model.namespace }, options)
    : undefined;
  return {
    ip: model.ip,
    port: target,
    weight: model.weight,
    labels,
    identity,
    protocolHint: model.meshed ? 'h2' : undefined,
  };
}

/**
 * What `namespace/service:port` resolves to. A port the Service does not list still resolves (to the
 * same port on each endpoint), as Linkerd does for ports missing from a Service.
 */
export function serviceState(
  model: DiscoveryModel,
  namespace: string,
  service: string,
  port: number,
  options: ParseOptions,
): ServiceState {
  const svc = model.services.get(`${namespace}/${service}`);
  if (svc === undefined) return { kind: 'not-found' };
  const servicePort = svc.ports.find((p) => p.port === port);
  const endpoints = svc.endpoints
    // Like a Service's ready addresses: only running pods (an endpoint without a pod always counts).
    .filter((e) => e.pod === undefined || e.pod.phase === 'Running')
    .map((e) => endpointFor(e, servicePort, port, options));
  return { kind: 'endpoints', labels: { namespace, service }, endpoints };
}

// What a public API tap request asks for, in proxy terms: the pods to tap (from discovery), where each
// one's proxy serves Tap, and the ObserveRequest match that the request's filters become. Pure.
import net from 'node:net';
import type { PodInfo } from '../discovery/types.ts';

// ── The public API request shapes (proto/public.proto, as grpc-js decodes them) ──

export interface ResourceMessage {
  namespace?: string;
  type?: string;
  name?: string;
}

export interface ResourceSelectionMessage {
  resource?: ResourceMessage | null;
  label_selector?: string;
}

export interface ByResourceMatchMessage {
  all?: { matches?: ByResourceMatchMessage[] } | null;
  any?: { matches?: ByResourceMatchMessage[] } | null;
  not?: ByResourceMatchMessage | null;
  destinations?: ResourceSelectionMessage | null;
  http?: { scheme?: string; method?: string; authority?: string; path?: string } | null;
}

export interface TapByResourceRequestMessage {
  target?: ResourceSelectionMessage | null;
  match?: ByResourceMatchMessage | null;
  maxRps?: number;
  /** Linkerd 2.x field 4: ask the proxies for headers. Read when public.proto declares it. */
  extract?: { http?: { headers?: object | null } | null } | null;
}

/** Conduit's older `TapRequest`: one pod or deployment (`<namespace>/<name>`) and flat filters. */
export interface TapRequestMessage {
  pod?: string;
  deployment?: string;
  maxRps?: number;
  toPort?: number;
  toIP?: string;
  fromPort?: number;
  fromIP?: string;
  scheme?: string;
  method?: string;
  authority?: string;
  path?: string;
}

/** A request the relay refuses; `code` is the gRPC status the public API sends. */
export class TapRequestError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'TapRequestError';
    this.code = code;
  }
}

export const INVALID_ARGUMENT = 3;
export const NOT_FOUND = 5;
export const UNAVAILABLE = 14;

// ── Resources ──

/** Kinds a tap can target, by kubectl name and alias. Services own no pods: tap their workload. */
const TYPES: Readonly<Record<string, string>> = {
  deploy: 'deployment',
  deployment: 'deployment',
  deployments: 'deployment',
  sts: 'statefulset',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  ds: 'daemonset',
  daemonset: 'daemonset',
  daemonsets: 'daemonset',
  job: 'job',
  jobs: 'job',
  cj: 'cronjob',
  cronjob: 'cronjob',
  cronjobs: 'cronjob',
  rc: 'replicationcontroller',
  replicationcontroller: 'replicationcontroller',
  replicationcontrollers: 'replicationcontroller',
  rs: 'replicaset',
  replicaset: 'replicaset',
  replicasets: 'replicaset',
  po: 'pod',
  pod: 'pod',
  pods: 'pod',
  ns: 'namespace',
  namespace: 'namespace',
  namespaces: 'namespace',
};

export interface Resource {
  /** Canonical: deployment, statefulset, …, pod, namespace. */
  readonly type: string;
  /** '' = every namespace (for a namespace, its name is the namespace). */
  readonly namespace: string;
  /** '' = every resource of the type. */
  readonly name: string;
}

export function parseResource(message: ResourceMessage | null | undefined, what: string): Resource {
  const type = TYPES[(message?.type ?? '').toLowerCase()];
  if (type === undefined) {
    throw new TapRequestError(
      INVALID_ARGUMENT,
      message?.type ? `cannot tap ${what} of type ${JSON.stringify(message.type)}; use deploy, sts, ds, job, cj, rc, rs, po or ns` : `${what}: a resource type is required`,
    );
  }
  return { type, namespace: message?.namespace ?? '', name: message?.name ?? '' };
}

export function formatResource(resource: Resource): string {
  return `${resource.type}/${resource.name || '*'}${resource.type === 'namespace' || resource.namespace === '' ? '' : ` in namespace ${resource.namespace}`}`;
}

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

/** Kubernetes equality- and set-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`. */
export function parseLabelSelector(selector: string): Requirement {
  const requirements: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part)) !== null) {
      const [, key = '', op, value = ''] = m;
      requirements.push(op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = /^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)) !== null) {
      const [, key = '', op, list = ''] = m;
      const values = new Set(list.split(',').map((v) => v.trim()));
      requirements.push(op === 'in' ? (l) => l[key] !== undefined && values.has(l[key]) : (l) => l[key] === undefined || !values.has(l[key]));
    } else if ((m = /^(!?)([\w./-]+)$/.exec(part)) !== null) {
      const [, not, key = ''] = m;
      requirements.push(not === '!' ? (l) => l[key] === undefined : (l) => l[key] !== undefined);
    } else {
      throw new TapRequestError(INVALID_ARGUMENT, `label selector ${JSON.stringify(selector)}: cannot parse ${JSON.stringify(part)}`);
    }
  }
  return (labels) => requirements.every((r) => r(labels));
}

/** Does `pod` belong to `resource`? */
export function podIn(pod: PodInfo, resource: Resource): boolean {
  if (resource.type === 'namespace') return resource.name === '' || pod.namespace === resource.name;
  if (resource.namespace !== '' && pod.namespace !== resource.namespace) return false;
  if (resource.type === 'pod') return resource.name === '' || pod.name === resource.name;
  if (pod.owner === undefined || pod.owner.kind.toLowerCase() !== resource.type) return false;
  return resource.name === '' || pod.owner.name === resource.name;
}

/** Pods of `selection`, any state. */
export function selectPods(pods: readonly PodInfo[], selection: ResourceSelectionMessage | null | undefined, what: string): { resource: Resource; pods: PodInfo[] } {
  const resource = parseResource(selection?.resource, what);
  const selector = selection?.label_selector ? parseLabelSelector(selection.label_selector) : undefined;
  return { resource, pods: pods.filter((pod) => podIn(pod, resource) && (selector === undefined || selector(pod.labels))) };
}

/** The pods a tap can reach: meshed, running, with an IP. */
export function tappable(pods: readonly PodInfo[]): PodInfo[] {
  return pods.filter((pod) => pod.meshed && pod.phase === 'Running' && pod.ip !== undefined && pod.ip !== '');
}

/** A pod label naming the port its proxy serves Tap on, when not the default (local demos run every proxy on one IP). */
export const TAP_PORT_LABEL = 'sluice.io/tap-port';

/** `host:port` of a pod's Tap server. */
export function tapAddress(pod: PodInfo, defaultPort: number): string {
  const label = pod.labels[TAP_PORT_LABEL];
  const port = label !== undefined && /^\d{1,5}$/.test(label) && Number(label) > 0 && Number(label) < 65536 ? Number(label) : defaultPort;
  const ip = pod.ip ?? '';
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

// ── Matches ──

/** The destination labels a proxy would report for a resource (Linkerd: kind → label name, plus namespace). */
export function destinationLabels(resource: Resource): Record<string, string> {
  const labels: Record<string, string> = {};
  if (resource.type === 'namespace') {
    if (resource.name !== '') labels['namespace'] = resource.name;
    return labels;
  }
  if (resource.name !== '') labels[resource.type] = resource.name;
  if (resource.namespace !== '') labels['namespace'] = resource.namespace;
  return labels;
}

const REGISTERED_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE']);

function methodMessage(method: string): object {
  const upper = method.toUpperCase();
  return REGISTERED_METHODS.has(upper) ? { registered: upper } : { unregistered: upper };
}

function schemeMessage(scheme: string): object {
  const lower = scheme.toLowerCase();
  return lower === 'http' ? { registered: 'HTTP' } : lower === 'https' ? { registered: 'HTTPS' } : { unregistered: lower };
}

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** A net.IPAddress message for an IP, or undefined. */
export function ipMessage(address: string): object | undefined {
  let ip = address.replace(/%.*$/, '');
  if (net.isIPv4(ip)) return { ipv4: ipv4Number(ip) };
  if (!net.isIPv6(ip)) return undefined;
  // Expand to 8 groups of 16 bits (an embedded IPv4 tail is two).
  if (ip.includes('.')) {
    const at = ip.lastIndexOf(':');
    const v4 = ipv4Number(ip.slice(at + 1));
    ip = `${ip.slice(0, at + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const value = groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
  return { ipv6: { first: (value >> 64n).toString(), last: (value & 0xffffffffffffffffn).toString() } };
}

/**
 * Translates a TapByResourceRequest match into an ObserveRequest match. `destinations` becomes the
 * destination labels of that resource (as Linkerd does), or, for traffic whose endpoint labels the proxy
 * does not know, the addresses of its pods: `any[all[labels…], any[netmask of each pod IP]]`. Only IPs
 * that belong to one pod count: where pods share an IP (a local demo on 127.0.0.1), an address says
 * nothing about which pod a request went to.
 */
export function translateMatch(match: ByResourceMatchMessage | null | undefined, pods: readonly PodInfo[], depth = 0): object | undefined {
  if (match === null || match === undefined) return undefined;
  if (depth > 32) throw new TapRequestError(INVALID_ARGUMENT, 'match nested too deeply');
  const seq = (matches: ByResourceMatchMessage[] | undefined): object => ({
    matches: (matches ?? []).map((m) => translateMatch(m, pods, depth + 1)).filter((m) => m !== undefined),
  });
  if (match.all) return { all: seq(match.all.matches) };
  if (match.any) return { any: seq(match.any.matches) };
  if (match.not) {
    const inner = translateMatch(match.not, pods, depth + 1);
    if (inner === undefined) throw new TapRequestError(INVALID_ARGUMENT, 'not: an empty match');
    return { not: inner };
  }
  if (match.destinations) {
    const { resource, pods: selected } = selectPods(pods, match.destinations, 'the destination');
    const byLabel = Object.entries(destinationLabels(resource)).map(([key, value]) => ({ destination_label: { key, value } }));
    const owners = new Map<string, number>();
    for (const p of pods) if (p.ip) owners.set(p.ip, (owners.get(p.ip) ?? 0) + 1);
    const byAddress = [...new Set(selected.map((p) => p.ip).filter((ip): ip is string => ip !== undefined && ip !== '' && owners.get(ip) === 1))]
      .map((ip) => ipMessage(ip))
      .filter((ip) => ip !== undefined)
      .map((ip) => ({ destination: { netmask: { ip, mask: 0 } } }));
    return { any: { matches: [{ all: { matches: byLabel } }, { any: { matches: byAddress } }] } };
  }
  const http = match.http;
  if (http) {
    // Linkerd: authority exact, path prefix.
    if (http.scheme) return { http: { scheme: schemeMessage(http.scheme) } };
    if (http.method) return { http: { method: methodMessage(http.method) } };
    if (http.authority) return { http: { authority: { exact: http.authority } } };
    if (http.path) return { http: { path: { prefix: http.path } } };
    throw new TapRequestError(INVALID_ARGUMENT, 'http match: one of scheme, method, authority, path is required');
  }
  throw new TapRequestError(INVALID_ARGUMENT, 'a match names none of all, any, not, destinations, http');
}

/** What to tap and how: the relay's input, from either public API method. */
export interface TapPlan {
  readonly resource: Resource;
  /** The target's pods, any state (the relay taps those it can reach). */
  readonly pods: readonly PodInfo[];
  /** The ObserveRequest match; undefined = every request. */
  readonly match: object | undefined;
  readonly maxRps: number;
  readonly headers: boolean;
}

/** Linkerd's tap server substitutes this when a request carries no maxRps. */
export const DEFAULT_MAX_RPS = 100;

export function planByResource(request: TapByResourceRequestMessage, pods: readonly PodInfo[]): TapPlan {
  if (request.target === null || request.target === undefined) throw new TapRequestError(INVALID_ARGUMENT, 'a target resource is required');
  const { resource, pods: selected } = selectPods(pods, request.target, 'the target');
  return {
    resource,
    pods: selected,
    match: translateMatch(request.match, pods),
    maxRps: request.maxRps !== undefined && request.maxRps > 0 ? request.maxRps : DEFAULT_MAX_RPS,
    headers: request.extract?.http?.headers !== undefined && request.extract?.http?.headers !== null,
  };
}

/** Conduit's `TapRequest`: a pod or deployment (`name` or `<namespace>/<name>`) and flat filters. */
export function planTapRequest(request: TapRequestMessage, pods: readonly PodInfo[]): TapPlan {
  const target = request.pod ? { type: 'pod', ref: request.pod } : request.deployment ? { type: 'deployment', ref: request.deployment } : undefined;
  if (target === undefined) throw new TapRequestError(INVALID_ARGUMENT, 'TapRequest needs a pod or a deployment');
  const slash = target.ref.indexOf('/');
  const selection = {
    resource: { type: target.type, namespace: slash < 0 ? 'default' : target.ref.slice(0, slash), name: slash < 0 ? target.ref : target.ref.slice(slash + 1) },
  };
  const ip = (value: string): object => {
    const message = ipMessage(value);
    if (message === undefined) throw new TapRequestError(INVALID_ARGUMENT, `${JSON.stringify(value)} is not an IP address`);
    return message;
  };
  const matches: object[] = [];
  if (request.toIP) matches.push({ destination: { netmask: { ip: ip(request.toIP), mask: 0 } } });
  if (request.toPort) matches.push({ destination: { ports: { min: request.toPort } } });
  if (request.fromIP) matches.push({ source: { netmask: { ip: ip(request.fromIP), mask: 0 } } });
  if (request.fromPort) matches.push({ source: { ports: { min: request.fromPort } } });
  for (const key of ['scheme', 'method', 'authority', 'path'] as const) {
    const value = request[key];
    if (value) matches.push(translateMatch({ http: { [key]: value } }, pods) as object);
  }
  const plan = planByResource({ target: selection, maxRps: request.maxRps }, pods);
  return { ...plan, match: matches.length > 0 ? { all: { matches } } : undefined };
}

// Pure mapping: a Service, its EndpointSlices and the pods behind them → the ServiceState of one port.
import type { V1Endpoint, V1EndpointSlice, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Endpoint, ServiceName, ServiceState } from '../types.ts';
import { ownerLabel } from './owners.ts';
import type { Owner } from './owners.ts';
import { identityOf, isMeshed, serviceAccountOf } from './pods.ts';
import type { IdentityOptions } from './pods.ts';

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Linkerd's default endpoint weight. */
export const DEFAULT_WEIGHT = 10_000;

export const NOT_FOUND: ServiceState = Object.freeze({ kind: 'not-found' });

export interface EndpointContext extends IdentityOptions {
  pod(namespace: string, name: string): V1Pod | undefined;
  owner(pod: V1Pod): Owner | undefined;
}

/** The slices that belong to a Service, by the `kubernetes.io/service-name` label. */
export function slicesOf(name: ServiceName, slices: Iterable<V1EndpointSlice>): V1EndpointSlice[] {
  const mine: V1EndpointSlice[] = [];
  for (const slice of slices) {
    if (slice.metadata?.namespace === name.namespace && slice.metadata.labels?.[SERVICE_NAME_LABEL] === name.service) mine.push(slice);
  }
  return mine;
}

/**
 * The port the endpoints of `slice` listen on for Service port `port`, or undefined when they do not
 * serve it. A slice lists the Service's ports by the Service port's name, with the target port already
 * resolved for its endpoints (so a named target port resolves per pod).
 */
export function slicePort(servicePort: V1ServicePort | undefined, port: number, slice: V1EndpointSlice): number | undefined {
  // A port the Service does not declare: the port itself, as Linkerd does.
  if (!servicePort) return port;
  const wanted = servicePort.name ?? '';
  const match = (slice.ports ?? []).find((p) => (p.name ?? '') === wanted);
  if (!match) return undefined;
  if (match.port !== undefined && match.port !== null) return match.port;
  // A slice port without a number means "not restricted": fall back to a numeric target port.
  return typeof servicePort.targetPort === 'number' ? servicePort.targetPort : servicePort.port;
}

/** Kubernetes: a missing `ready` condition is to be read as ready. */
export function isReady(endpoint: V1Endpoint): boolean {
  return endpoint.conditions?.ready !== false;
}

function endpointLabels(endpoint: V1Endpoint, namespace: string, pod: V1Pod | undefined, ctx: EndpointContext): Record<string, string> {
  const labels: Record<string, string> = { namespace };
  const ref = endpoint.targetRef;
  if (ref?.kind === 'Pod' && ref.name) labels['pod'] = ref.name;
  if (pod) {
    const owner = ctx.owner(pod);
    if (owner) labels[ownerLabel(owner.kind)] = owner.name;
    labels['serviceaccount'] = serviceAccountOf(pod);
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    if (hash) labels['pod_template_hash'] = hash;
  }
  if (endpoint.zone) labels['zone'] = endpoint.zone;
  return labels;
}

function toEndpoint(ip: string, port: number, endpoint: V1Endpoint, namespace: string, ctx: EndpointContext): Endpoint {
  const ref = endpoint.targetRef;
  const pod = ref?.kind === 'Pod' && ref.name ? ctx.pod(ref.namespace || namespace, ref.name) : undefined;
  const meshed = pod !== undefined && isMeshed(pod);
  return {
    ip,
    port,
    weight: DEFAULT_WEIGHT,
    labels: endpointLabels(endpoint, namespace, pod, ctx),
    identity: meshed ? identityOf(pod, ctx) : undefined,
    protocolHint: meshed ? 'h2' : undefined,
  };
}

/**
 * The state of `port` of the Service `name`. `slices` may hold any slices: only those labelled for
 * this Service count. Ready endpoints only; the same address in two slices (as during a slice
 * hand-over) counts once. Sorted by IP then port so that equal states compare equal.
 */
export function serviceState(
  name: ServiceName,
  port: number,
  service: V1Service | undefined,
  slices: Iterable<V1EndpointSlice>,
  ctx: EndpointContext,
): ServiceState {
  // ExternalName Services have no endpoints to balance over: callers fall back to DNS.
  if (!service || service.spec?.type === 'ExternalName') return NOT_FOUND;
  const servicePort = service.spec?.ports?.find((p) => p.port === port);
  const byAddress = new Map<string, Endpoint>();
  for (const slice of slicesOf(name, slices)) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const target = slicePort(servicePort, port, slice);
    if (target === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // All addresses of one endpoint are fungible; the first one is the one to use.
      const ip = endpoint.addresses?.[0];
      if (!ip || !isReady(endpoint)) continue;
      const key = `${ip}:${target}`;
      if (!byAddress.has(key)) byAddress.set(key, toEndpoint(ip, target, endpoint, name.namespace, ctx));
    }
  }
  const endpoints = [...byAddress.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
  return { kind: 'endpoints', labels: { namespace: name.namespace, service: name.service }, endpoints };
}

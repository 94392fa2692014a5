// What the mesh needs to know about a pod: meshed or not, its TLS identity, and its PodInfo.
import type { V1Pod } from '@kubernetes/client-node';
import { identityName } from '../../../api/identity-name.ts';
import type { PodInfo } from '../types.ts';
import type { Owner } from './owners.ts';

export const PROXY_CONTAINER = 'sluice-proxy';
export const PROXY_VERSION_ANNOTATION = 'sluice.dev/proxy-version';

export interface IdentityOptions {
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
}

export function isMeshed(pod: V1Pod): boolean {
  if (pod.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] !== undefined) return true;
  return (pod.spec?.containers ?? []).some((c) => c.name === PROXY_CONTAINER);
}

/** Kubernetes fills in `default` when a pod names no service account. */
export function serviceAccountOf(pod: V1Pod): string {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
}

/** `<sa>.<ns>.serviceaccount.identity.<control-plane ns>.<trust domain>`. */
export function identityOf(pod: V1Pod, options: IdentityOptions): string {
  const ns = pod.metadata?.namespace ?? '';
  return identityName({ serviceAccount: serviceAccountOf(pod), namespace: ns }, options);
}

export function podInfo(pod: V1Pod, owner: Owner | undefined): PodInfo {
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    ip: pod.status?.podIP || undefined,
    owner,
    serviceAccount: serviceAccountOf(pod),
    meshed: isMeshed(pod),
    phase: pod.status?.phase ?? 'Unknown',
    labels: { ...pod.metadata?.labels },
    containerPorts: containerPorts(pod),
    inboundPolicy: proxyInboundPolicy(pod),
  };
}

/** Named container ports of every container, for Servers that name their port. */
function containerPorts(pod: V1Pod): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const container of pod.spec?.containers ?? []) {
    for (const port of container.ports ?? []) if (port.name !== undefined && port.name !== '') ports[port.name] = port.containerPort;
  }
  return ports;
}

/** What the injector set in the proxy's environment: the pod's default inbound policy and require-identity ports. */
function proxyInboundPolicy(pod: V1Pod): { defaultPolicy?: string; requireIdentityPorts?: string } | undefined {
  const proxy = (pod.spec?.containers ?? []).find((c) => c.name === PROXY_CONTAINER);
  if (proxy === undefined) return undefined;
  const value = (name: string): string | undefined => proxy.env?.find((e) => e.name === name)?.value;
  const defaultPolicy = value('SLUICE_PROXY_INBOUND_DEFAULT_POLICY');
  const requireIdentityPorts = value('SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY');
  return { ...(defaultPolicy === undefined ? {} : { defaultPolicy }), ...(requireIdentityPorts === undefined ? {} : { requireIdentityPorts }) };
}

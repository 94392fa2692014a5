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
  };
}

// Builders for the Kubernetes objects tests put into a FakeKube (only the fields that matter here).
import type { KubeObject } from './server.ts';

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly apiVersion?: string;
}

const API_VERSIONS: Readonly<Record<string, string>> = {
  ReplicaSet: 'apps/v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ReplicationController: 'v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

function ownerReferences(owner: OwnerRef | undefined): Record<string, unknown>[] | undefined {
  if (!owner) return undefined;
  const apiVersion = owner.apiVersion ?? API_VERSIONS[owner.kind] ?? 'v1';
  return [{ apiVersion, kind: owner.kind, name: owner.name, uid: `uid-${owner.name}`, controller: true, blockOwnerDeletion: true }];
}

export function namespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export interface PodOptions {
  readonly name: string;
  readonly namespace?: string;
  readonly ip?: string;
  readonly labels?: Record<string, string>;
  readonly owner?: OwnerRef;
  /** `container`: has the `sluice-proxy` container; `annotation`: has `sluice.dev/proxy-version`. */
  readonly meshed?: 'container' | 'annotation';
  readonly serviceAccount?: string;
  readonly phase?: string;
}

export function pod(o: PodOptions): KubeObject {
  const containers: Record<string, unknown>[] = [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }] }];
  if (o.meshed === 'container') containers.push({ name: 'sluice-proxy', image: 'sluice/proxy:dev' });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.namespace ?? 'default',
      labels: o.labels ?? {},
      ...(o.meshed === 'annotation' ? { annotations: { 'sluice.dev/proxy-version': 'dev' } } : {}),
      ...(o.owner ? { ownerReferences: ownerReferences(o.owner) } : {}),
    },
    spec: { serviceAccountName: o.serviceAccount ?? 'default', containers },
    status: { phase: o.phase ?? 'Running', ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}) },
  };
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
}

export function service(o: { name: string; namespace?: string; ports: readonly ServicePort[]; type?: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: o.name, namespace: o.namespace ?? 'default' },
    spec: {
      type: o.type ?? 'ClusterIP',
      selector: { app: o.name },
      ports: o.ports.map((p) => ({ protocol: 'TCP', ...p })),
    },
  };
}

export interface SliceEndpoint {
  readonly ip: string;
  /** The pod behind the address (targetRef), when there is one. */
  readonly pod?: string;
  /** Leave undefined to omit `conditions.ready` altogether. */
  readonly ready?: boolean;
  readonly zone?: string;
}

export function endpointSlice(o: {
  name: string;
  namespace?: string;
  service: string;
  ports: ReadonlyArray<{ name?: string; port?: number }>;
  endpoints: readonly SliceEndpoint[];
  addressType?: string;
}): KubeObject {
  const ns = o.namespace ?? 'default';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: o.name,
      namespace: ns,
      labels: { 'kubernetes.io/service-name': o.service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    addressType: o.addressType ?? 'IPv4',
    ports: o.ports.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: o.endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: e.ready === undefined ? {} : { ready: e.ready, serving: e.ready, terminating: false },
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: ns } } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    })),
  };
}

function workload(apiVersion: string, kind: string, name: string, namespace: string | undefined, owner?: OwnerRef): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name, namespace: namespace ?? 'default', ...(owner ? { ownerReferences: ownerReferences(owner) } : {}) },
    spec: {},
  };
}

export const replicaSet = (name: string, namespace?: string, owner?: OwnerRef): KubeObject => workload('apps/v1', 'ReplicaSet', name, namespace, owner);
export const deployment = (name: string, namespace?: string): KubeObject => workload('apps/v1', 'Deployment', name, namespace);
export const statefulSet = (name: string, namespace?: string): KubeObject => workload('apps/v1', 'StatefulSet', name, namespace);
export const daemonSet = (name: string, namespace?: string): KubeObject => workload('apps/v1', 'DaemonSet', name, namespace);
export const job = (name: string, namespace?: string, owner?: OwnerRef): KubeObject => workload('batch/v1', 'Job', name, namespace, owner);
export const cronJob = (name: string, namespace?: string): KubeObject => workload('batch/v1', 'CronJob', name, namespace);

export function serviceProfile(o: { service: string; namespace?: string; clusterDomain?: string; spec: Record<string, unknown> }): KubeObject {
  const ns = o.namespace ?? 'default';
  return {
    apiVersion: 'sluice.dev/v1alpha2',
    kind: 'ServiceProfile',
    metadata: { name: `${o.service}.${ns}.svc.${o.clusterDomain ?? 'cluster.local'}`, namespace: ns },
    spec: o.spec,
  };
}

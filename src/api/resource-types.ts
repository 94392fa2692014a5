// Resource types of the public API and the CLI (`deploy/web`, `po/web-1`, `ns/emojivoto`, `svc/web`,
// `au/web:80`): canonical names, kubectl-style aliases and short names.

/** Kinds that own pods; stats for them come from the keys' `workload` (`<kind>/<name>`). */
export const WORKLOAD_TYPES = ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'replicaset'] as const;
export type WorkloadType = (typeof WORKLOAD_TYPES)[number];
export type ResourceType = WorkloadType | 'pod' | 'namespace' | 'service' | 'authority';

const ALIASES: Readonly<Record<string, ResourceType | 'all'>> = {
  all: 'all',
  au: 'authority',
  authority: 'authority',
  authorities: 'authority',
  cj: 'cronjob',
  cronjob: 'cronjob',
  cronjobs: 'cronjob',
  deploy: 'deployment',
  deployment: 'deployment',
  deployments: 'deployment',
  ds: 'daemonset',
  daemonset: 'daemonset',
  daemonsets: 'daemonset',
  job: 'job',
  jobs: 'job',
  ns: 'namespace',
  namespace: 'namespace',
  namespaces: 'namespace',
  po: 'pod',
  pod: 'pod',
  pods: 'pod',
  rc: 'replicationcontroller',
  replicationcontroller: 'replicationcontroller',
  replicationcontrollers: 'replicationcontroller',
  rs: 'replicaset',
  replicaset: 'replicaset',
  replicasets: 'replicaset',
  sts: 'statefulset',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  svc: 'service',
  service: 'service',
  services: 'service',
};

/** kubectl's short name of each type, for `all` tables (`deploy/web`). */
export const SHORT_NAMES: Readonly<Record<ResourceType, string>> = {
  deployment: 'deploy',
  statefulset: 'sts',
  daemonset: 'ds',
  job: 'job',
  cronjob: 'cj',
  replicationcontroller: 'rc',
  replicaset: 'rs',
  pod: 'po',
  namespace: 'ns',
  service: 'svc',
  authority: 'au',
};

/** The canonical type for a name or alias (any case), or undefined. */
export function canonicalType(type: string): ResourceType | 'all' | undefined {
  return ALIASES[type.toLowerCase()];
}

export function isWorkloadType(type: string): type is WorkloadType {
  return (WORKLOAD_TYPES as readonly string[]).includes(type);
}

// Where a workload keeps its pod: the kinds Sluice injects and the path to their pod template. Pure.

export type InjectableKind = 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'ReplicationController' | 'Job' | 'CronJob';

interface KindInfo {
  /** API groups the kind is served from (old ones included: manifests outlive their API versions). */
  readonly groups: readonly string[];
  /** Path from the object to the pod template (`[]` for a Pod: the object is the pod). */
  readonly template: readonly string[];
  /** The `sluice.dev/proxy-<kind>` label and `SLUICE_PROXY_WORKLOAD` prefix; none for a bare pod. */
  readonly workloadName: string | undefined;
}

const KINDS: Readonly<Record<InjectableKind, KindInfo>> = {
  Pod: { groups: [''], template: [], workloadName: undefined },
  Deployment: { groups: ['apps', 'extensions'], template: ['spec', 'template'], workloadName: 'deployment' },
  StatefulSet: { groups: ['apps'], template: ['spec', 'template'], workloadName: 'statefulset' },
  DaemonSet: { groups: ['apps', 'extensions'], template: ['spec', 'template'], workloadName: 'daemonset' },
  ReplicaSet: { groups: ['apps', 'extensions'], template: ['spec', 'template'], workloadName: 'replicaset' },
  ReplicationController: { groups: [''], template: ['spec', 'template'], workloadName: 'replicationcontroller' },
  Job: { groups: ['batch'], template: ['spec', 'template'], workloadName: 'job' },
  CronJob: { groups: ['batch'], template: ['spec', 'jobTemplate', 'spec', 'template'], workloadName: 'cronjob' },
};

export interface WorkloadRef {
  readonly kind: InjectableKind;
  readonly name: string;
  readonly namespace: string | undefined;
  /** Path to the pod template: its `metadata` and `spec` are the pod's. */
  readonly template: readonly string[];
  /** `deployment`, `statefulset`, …; undefined for a bare pod. */
  readonly workloadName: string | undefined;
}

export type Located = { readonly ok: true; readonly workload: WorkloadRef } | { readonly ok: false; readonly reason: string };

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `apps/v1` → `apps`; `v1` → ``. */
function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Finds the pod template of an object, or says why it cannot be injected. */
export function locateWorkload(object: unknown): Located {
  const obj = record(object);
  const kind = typeof obj?.kind === 'string' ? obj.kind : undefined;
  const apiVersion = typeof obj?.apiVersion === 'string' ? obj.apiVersion : '';
  const metadata = record(obj?.metadata);
  if (obj === undefined || kind === undefined) return { ok: false, reason: 'not a Kubernetes object (no kind)' };
  const info = Object.hasOwn(KINDS, kind) ? KINDS[kind as InjectableKind] : undefined;
  if (info === undefined || !info.groups.includes(apiGroup(apiVersion))) {
    return { ok: false, reason: `kind ${kind}${apiVersion === '' ? '' : ` (${apiVersion})`} has no pod to inject` };
  }
  let node: Record<string, unknown> | undefined = obj;
  for (const segment of info.template) node = record(node?.[segment]);
  if (node === undefined || record(node.spec) === undefined) {
    return { ok: false, reason: `no pod template at ${['', ...info.template, 'spec'].join('/') || '/spec'}` };
  }
  return {
    ok: true,
    workload: {
      kind: kind as InjectableKind,
      name: typeof metadata?.name === 'string' ? metadata.name : typeof metadata?.generateName === 'string' ? metadata.generateName : '',
      namespace: typeof metadata?.namespace === 'string' ? metadata.namespace : undefined,
      template: info.template,
      workloadName: info.workloadName,
    },
  };
}

/** Linkerd's CLI spelling of a kind in summaries: `deployment "web"`. */
export function describeObject(object: unknown): string {
  const obj = record(object);
  const kind = typeof obj?.kind === 'string' ? obj.kind.toLowerCase() : 'document';
  const metadata = record(obj?.metadata);
  const name = typeof metadata?.name === 'string' ? metadata.name : typeof metadata?.generateName === 'string' ? metadata.generateName : '';
  return name === '' ? kind : `${kind} "${name}"`;
}

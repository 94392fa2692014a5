// What the injector asks the API server about a pod being created: its namespace's annotations
// (`sluice.dev/inject`, `config.sluice.dev/*`) and the workload that owns it (ReplicaSet → Deployment,
// Job → CronJob). Plain GETs: one pod creation needs at most three, and a cache of every namespace,
// ReplicaSet and Job in the cluster would cost more memory than the webhook's traffic justifies.
import type { KubeConfig, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

export interface Owner {
  /** `deployment`, `statefulset`, … (the `sluice.dev/proxy-<kind>` spelling). */
  readonly kind: string;
  readonly name: string;
}

export interface InjectorLookup {
  namespaceAnnotations(namespace: string): Promise<Record<string, string>>;
  owner(namespace: string, pod: { metadata?: V1ObjectMeta }): Promise<Owner | undefined>;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob']);

/** The controlling owner reference, else the first one. */
function controllerOf(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  const refs = meta?.ownerReferences ?? [];
  return refs.find((ref) => ref.controller === true) ?? refs[0];
}

function asOwner(ref: V1OwnerReference | undefined): Owner | undefined {
  return ref !== undefined && WORKLOAD_KINDS.has(ref.kind) ? { kind: ref.kind.toLowerCase(), name: ref.name } : undefined;
}

export async function kubeLookup(kubeConfig: KubeConfig): Promise<InjectorLookup> {
  const { AppsV1Api, BatchV1Api, CoreV1Api } = await import('@kubernetes/client-node');
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  return {
    async namespaceAnnotations(namespace) {
      try {
        return (await core.readNamespace({ name: namespace })).metadata?.annotations ?? {};
      } catch (error) {
        throw new Error(describeApiError(error));
      }
    },
    async owner(namespace, pod) {
      const ref = controllerOf(pod.metadata);
      if (ref === undefined) return undefined;
      // A pod's ReplicaSet or Job is usually there already (it created the pod); its own owner is the
      // workload a person named. If it cannot be read, the direct owner is still right, only less useful.
      let parent: V1OwnerReference | undefined;
      try {
        if (ref.kind === 'ReplicaSet') parent = controllerOf((await apps.readNamespacedReplicaSet({ name: ref.name, namespace })).metadata);
        else if (ref.kind === 'Job') parent = controllerOf((await batch.readNamespacedJob({ name: ref.name, namespace })).metadata);
      } catch {
        parent = undefined;
      }
      return asOwner(parent) ?? asOwner(ref);
    },
  };
}

/** The client's errors carry the whole response; keep the status and the API server's message. */
export function describeApiError(error: unknown): string {
  const { code, body } = error as { code?: unknown; body?: unknown };
  if (typeof code !== 'number') return (error as Error)?.message ?? String(error);
  let message = '';
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
    if (typeof status?.message === 'string') message = status.message;
  } catch {
    message = '';
  }
  return message === '' ? `HTTP ${code}` : `HTTP ${code}: ${message}`;
}

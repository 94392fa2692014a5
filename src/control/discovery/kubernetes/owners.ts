// A pod's top owner: the workload a person would name. ReplicaSet → its Deployment, Job → its CronJob;
// StatefulSet, DaemonSet, ReplicationController and others are named directly by the pod's owner
// reference. ReplicaSets and Jobs come from informer caches (see README: why not GETs).
import type { V1Job, V1ObjectMeta, V1OwnerReference, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';

export interface Owner {
  readonly kind: string;
  readonly name: string;
}

/** Looks up the intermediate owners; undefined when not (yet) known. */
export interface OwnerLookup {
  replicaSet(namespace: string, name: string): V1ReplicaSet | undefined;
  job(namespace: string, name: string): V1Job | undefined;
}

/** The controlling owner reference, else the first one. */
export function controllerOf(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  const refs = meta?.ownerReferences ?? [];
  return refs.find((ref) => ref.controller === true) ?? refs[0];
}

/**
 * A ReplicaSet or Job that is not in the cache yet is reported as itself; the caller recomputes when
 * the cache learns it (the informers' events trigger that).
 */
export function topOwner(pod: V1Pod, lookup: OwnerLookup): Owner | undefined {
  const ref = controllerOf(pod.metadata);
  if (!ref) return undefined;
  const namespace = pod.metadata?.namespace ?? '';
  let parent: V1OwnerReference | undefined;
  if (ref.kind === 'ReplicaSet') parent = controllerOf(lookup.replicaSet(namespace, ref.name)?.metadata);
  else if (ref.kind === 'Job') parent = controllerOf(lookup.job(namespace, ref.name)?.metadata);
  return parent ? { kind: parent.kind, name: parent.name } : { kind: ref.kind, name: ref.name };
}

/** The metric label key for an owner kind, Linkerd's: `Deployment` → `deployment`. */
export function ownerLabel(kind: string): string {
  return kind.toLowerCase();
}

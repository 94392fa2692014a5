// Injection and uninjection of one Kubernetes object, as JSON Patch operations: the CLI applies them to
// its YAML or JSON documents, the webhook returns them to the API server. Pure.
//
// Inject only adds (containers, volumes, annotations, labels) and never edits what was there, so
// uninject can remove exactly what inject added: uninject(inject(x)) equals x. Injecting an injected
// object first removes the old sidecar, so injecting twice equals injecting once.
import {
  CONTROL_PLANE_NS_LABEL,
  CREATED_BY_ANNOTATION,
  injectMode,
  isProxyWorkloadLabel,
  podConfig,
  PROXY_VERSION_ANNOTATION,
  proxyWorkloadLabel,
  WORKLOAD_NS_LABEL,
} from './annotations.ts';
import { PatchBuilder, type PatchOp } from './json-patch.ts';
import { INIT_CONTAINER, initContainer, INJECTED_VOLUMES, injectedVolumes, PROXY_CONTAINER, proxyContainer } from './sidecar.ts';
import { ValuesError, type Values } from './values.ts';
import { locateWorkload, type WorkloadRef } from './workload.ts';

export interface InjectOptions {
  /** Values before the object's own `config.sluice.dev/*` annotations. */
  readonly values: Values;
  /** `sluice.dev/created-by`: `sluice/cli 0.1.0` or `sluice/proxy-injector 0.1.0`. */
  readonly createdBy: string;
  /** The namespace's annotations (the webhook reads them; the CLI does not). */
  readonly namespaceAnnotations?: Readonly<Record<string, unknown>> | undefined;
  /** The webhook injects only what opted in (pod or namespace `sluice.dev/inject: enabled`). */
  readonly requireOptIn?: boolean;
  /** The webhook leaves a pod that already has a proxy alone instead of re-injecting it. */
  readonly skipInjected?: boolean;
  /** A bare pod's namespace when its metadata has none (admission requests carry it separately). */
  readonly namespace?: string | undefined;
  /** The workload that owns a bare pod (`{kind:'deployment', name:'web'}`), from its owner references. */
  readonly owner?: { readonly kind: string; readonly name: string } | undefined;
}

export type InjectResult =
  | { readonly outcome: 'injected'; readonly ops: readonly PatchOp[]; readonly injected: unknown; readonly warnings: readonly string[] }
  /** Left as it was, with the reason (hostNetwork, disabled, unsupported kind…). */
  | { readonly outcome: 'skipped'; readonly reason: string; readonly warnings: readonly string[] }
  /** Left as it was because an annotation or value is wrong: an error for the user to fix. */
  | { readonly outcome: 'invalid'; readonly reason: string; readonly warnings: readonly string[] };

export type UninjectResult =
  | { readonly outcome: 'uninjected'; readonly ops: readonly PatchOp[]; readonly uninjected: unknown }
  | { readonly outcome: 'skipped'; readonly reason: string };

type Path = readonly (string | number)[];
type Obj = Record<string, unknown>;

function record(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function namedIndexes(list: unknown, names: readonly string[]): number[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i) => (names.includes(String(record(item)?.name)) ? [i] : []));
}

/** True when the pod (template) of `object` already has a Sluice proxy. */
export function isInjected(object: unknown): boolean {
  const located = locateWorkload(object);
  if (!located.ok) return false;
  return hasProxy(new PatchBuilder(object), located.workload.template);
}

function hasProxy(b: PatchBuilder, template: Path): boolean {
  return namedIndexes(b.get([...template, 'spec', 'containers']), [PROXY_CONTAINER]).length > 0;
}

function workloadOf(w: WorkloadRef, options: InjectOptions): { kind: string; name: string } | undefined {
  if (w.workloadName !== undefined) return w.name === '' ? undefined : { kind: w.workloadName, name: w.name };
  return options.owner;
}

export function inject(object: unknown, options: InjectOptions): InjectResult {
  const located = locateWorkload(object);
  if (!located.ok) return { outcome: 'skipped', reason: located.reason, warnings: [] };
  const w = located.workload;
  const b = new PatchBuilder(object);
  const podMeta = [...w.template, 'metadata'];
  const podAnnotations = record(b.get([...podMeta, 'annotations']));
  const objectAnnotations = w.kind === 'Pod' ? undefined : record(b.get(['metadata', 'annotations']));
  if (b.get([...w.template, 'spec', 'hostNetwork']) === true) return { outcome: 'skipped', reason: 'hostNetwork is enabled', warnings: [] };

  // The most specific annotation decides: pod template, then the object, then the namespace.
  let mode: ReturnType<typeof injectMode> = undefined;
  for (const annotations of [podAnnotations, objectAnnotations, options.namespaceAnnotations]) {
    mode = injectMode(annotations);
    if (mode !== undefined) break;
  }
  if (typeof mode === 'object') return { outcome: 'invalid', reason: mode.error, warnings: [] };
  if (mode === 'disabled') return { outcome: 'skipped', reason: 'sluice.dev/inject is disabled', warnings: [] };
  if (options.requireOptIn === true && mode !== 'enabled') {
    return { outcome: 'skipped', reason: 'sluice.dev/inject is not enabled on the pod or its namespace', warnings: [] };
  }
  if (hasProxy(b, w.template) && options.skipInjected === true) return { outcome: 'skipped', reason: 'already injected', warnings: [] };

  let config;
  try {
    config = podConfig(options.values, [options.namespaceAnnotations, objectAnnotations, podAnnotations]);
  } catch (error) {
    if (error instanceof ValuesError) return { outcome: 'invalid', reason: error.message, warnings: [] };
    throw error;
  }
  const { values, warnings } = config;
  if (values.identity.trustAnchorsPEM.trim() === '') {
    return { outcome: 'invalid', reason: 'no identity trust anchors in the values (sluice install generates them)', warnings };
  }

  removeSidecar(b, w.template); // re-injection replaces the old sidecar

  const owner = workloadOf(w, options);
  const namespace = w.namespace ?? options.namespace;
  const spec = [...w.template, 'spec'];
  // The proxy goes first: with the await hook, the kubelet starts the app containers after it is ready.
  b.insert([...spec, 'containers'], proxyContainer(values, { workload: owner === undefined ? undefined : `${owner.kind}/${owner.name}` }, values.identity.trustAnchorsPEM), 0);
  b.insert([...spec, 'initContainers'], initContainer(values));
  for (const volume of injectedVolumes()) b.insert([...spec, 'volumes'], volume);
  b.set([...podMeta, 'annotations', CREATED_BY_ANNOTATION], options.createdBy);
  b.set([...podMeta, 'annotations', PROXY_VERSION_ANNOTATION], values.proxy.image.version);
  b.set([...podMeta, 'labels', CONTROL_PLANE_NS_LABEL], values.controlPlaneNamespace);
  if (owner !== undefined) b.set([...podMeta, 'labels', proxyWorkloadLabel(owner.kind)], owner.name);
  if (namespace !== undefined && namespace !== '') b.set([...podMeta, 'labels', WORKLOAD_NS_LABEL], namespace);
  return { outcome: 'injected', ops: b.ops, injected: b.document, warnings };
}

export function uninject(object: unknown): UninjectResult {
  const located = locateWorkload(object);
  if (!located.ok) return { outcome: 'skipped', reason: located.reason };
  const b = new PatchBuilder(object);
  if (!removeSidecar(b, located.workload.template)) return { outcome: 'skipped', reason: 'not injected' };
  return { outcome: 'uninjected', ops: b.ops, uninjected: b.document };
}

/** Removes everything inject adds; returns false when there was nothing to remove. */
function removeSidecar(b: PatchBuilder, template: Path): boolean {
  const before = b.ops.length;
  const spec = [...template, 'spec'];
  removeNamed(b, [...spec, 'containers'], [PROXY_CONTAINER], false);
  removeNamed(b, [...spec, 'initContainers'], [INIT_CONTAINER], true);
  removeNamed(b, [...spec, 'volumes'], INJECTED_VOLUMES, true);
  const meta = [...template, 'metadata'];
  removeKeys(b, [...meta, 'annotations'], (k) => k === CREATED_BY_ANNOTATION || k === PROXY_VERSION_ANNOTATION);
  removeKeys(b, [...meta, 'labels'], (k) => k === CONTROL_PLANE_NS_LABEL || k === WORKLOAD_NS_LABEL || isProxyWorkloadLabel(k));
  // A pod template's metadata that held only what inject added was created by inject.
  const podMeta = record(b.get(meta));
  if (template.length > 0 && podMeta !== undefined && Object.keys(podMeta).length === 0 && b.ops.length > before) b.remove(meta);
  return b.ops.length > before;
}

function removeNamed(b: PatchBuilder, listPath: Path, names: readonly string[], dropEmpty: boolean): void {
  const indexes = namedIndexes(b.get(listPath), names);
  if (indexes.length === 0) return;
  for (const i of indexes.reverse()) b.remove([...listPath, i]);
  const list = b.get(listPath);
  if (dropEmpty && Array.isArray(list) && list.length === 0) b.remove(listPath);
}

function removeKeys(b: PatchBuilder, mapPath: Path, ours: (key: string) => boolean): void {
  const map = record(b.get(mapPath));
  if (map === undefined) return;
  const keys = Object.keys(map).filter(ours);
  if (keys.length === 0) return;
  for (const key of keys) b.remove([...mapPath, key]);
  if (Object.keys(record(b.get(mapPath)) ?? {}).length === 0) b.remove(mapPath);
}

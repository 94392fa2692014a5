// DiscoveryBackend on the Kubernetes API: informers on Services, EndpointSlices, Pods, ReplicaSets,
// Jobs and ServiceProfiles (cluster-wide), full states computed from the caches and pushed to
// listeners only when they changed. See README.md in this folder.
import { parseServer, parseServerAuthorization, POLICY_GROUP, POLICY_VERSION, type PolicyResources } from '../../policy/resources.ts';
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from '@kubernetes/client-node';
import type {
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1EndpointSlice,
  V1Job,
  V1Pod,
  V1ReplicaSet,
  V1Service,
} from '@kubernetes/client-node';
import { Logger } from '../../../log/logger.ts';
import type { DiscoveryBackend, PodInfo, ProfileSpec, ServiceName, ServiceState } from '../types.ts';
import { serviceState } from './endpoints.ts';
import type { EndpointContext } from './endpoints.ts';
import { ResilientInformer } from './informers.ts';
import type { Backoff, Log } from './informers.ts';
import { topOwner } from './owners.ts';
import type { OwnerLookup } from './owners.ts';
import { podInfo } from './pods.ts';
import { PROFILE_GROUP, PROFILE_PLURAL, PROFILE_VERSION, profileName, toProfileSpec } from './profiles.ts';

export interface KubernetesDiscoveryOptions {
  /** Default `cluster.local`: ServiceProfile names are `<svc>.<ns>.svc.<clusterDomain>`. */
  readonly clusterDomain?: string;
  /** Default `sluice`: part of every identity name. */
  readonly controlPlaneNamespace?: string;
  /** Default `cluster.local`: the identity trust domain. */
  readonly trustDomain?: string;
  /** Restart backoff of a failed informer; default 500 ms doubling to 30 s (±20 % jitter). */
  readonly restartBackoff?: Backoff;
  /** How long ready() waits for ServiceProfiles before going on without them; default 10 s. */
  readonly profileSyncGraceMs?: number;
  readonly log?: Log;
}

const PROFILE_SYNC_GRACE_MS = 10_000;

/** A watchService/watchProfile subscription, with its state type hidden behind `flush`. */
interface Listener {
  readonly namespace: string;
  /** Recomputes the state and sends it if it differs from the last one sent. */
  readonly flush: () => void;
}

/**
 * JSON with object keys sorted, so that equal states give equal strings whatever the key order
 * (`undefined`, a valid "no profile" state, gives the string `undefined`).
 */
export function canonical(value: unknown): string {
  const text: string | undefined = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
  return text ?? 'undefined';
}

const namespaceOf = (o: KubernetesObject): string => o.metadata?.namespace ?? '';

export class KubernetesDiscovery implements DiscoveryBackend {
  private readonly clusterDomain: string;
  private readonly context: EndpointContext;
  private readonly log: Log;
  private readonly services: ResilientInformer<V1Service>;
  private readonly slices: ResilientInformer<V1EndpointSlice>;
  private readonly podCache: ResilientInformer<V1Pod>;
  private readonly replicaSets: ResilientInformer<V1ReplicaSet>;
  private readonly jobs: ResilientInformer<V1Job>;
  private readonly profiles: ResilientInformer<KubernetesObject>;
  private readonly informers: ReadonlyArray<ResilientInformer<KubernetesObject>>;
  /** Listeners by namespace: a change in a namespace recomputes only that namespace's listeners. */
  private readonly serviceListeners = new Map<string, Set<Listener>>();
  private readonly profileListeners = new Map<string, Set<Listener>>();
  /** Listeners of the policy resources, all under one key: a change anywhere is a new set. */
  private readonly policyListeners = new Map<string, Set<Listener>>();
  private readonly servers: ResilientInformer<KubernetesObject>;
  private readonly serverAuthorizations: ResilientInformer<KubernetesObject>;
  private readonly dirty = new Set<Listener>();
  private flushScheduled: NodeJS.Immediate | undefined;
  private synced = false;
  private closed = false;
  private readonly readyPromise: Promise<void>;
  private rejectReady: (err: Error) => void = () => {};

  constructor(kubeConfig: KubeConfig, options: KubernetesDiscoveryOptions = {}) {
    this.clusterDomain = options.clusterDomain ?? 'cluster.local';
    this.log = options.log ?? new Logger('info', 'plain', 'discovery.kubernetes');
    const lookup: OwnerLookup = {
      replicaSet: (ns, name) => this.replicaSets.get(name, ns),
      job: (ns, name) => this.jobs.get(name, ns),
    };
    this.context = {
      controlPlaneNamespace: options.controlPlaneNamespace ?? 'sluice',
      trustDomain: options.trustDomain ?? 'cluster.local',
      pod: (ns, name) => this.podCache.get(name, ns),
      owner: (pod) => topOwner(pod, lookup),
    };
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const batch = kubeConfig.makeApiClient(BatchV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const backoff = options.restartBackoff ?? { initialMs: 500, maxMs: 30_000 };
    const make = <T extends KubernetesObject>(
      resource: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      onChange: (object: T) => void,
    ): ResilientInformer<T> => new ResilientInformer<T>({ kubeConfig, resource, path, list, backoff, log: this.log, onChange });
    const endpointsChanged = (o: KubernetesObject): void => this.touch(this.serviceListeners, namespaceOf(o));
    this.services = make('services', '/api/v1/services', () => core.listServiceForAllNamespaces(), endpointsChanged);
    this.slices = make('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces(), endpointsChanged);
    this.replicaSets = make('replicasets', '/apis/apps/v1/replicasets', () => apps.listReplicaSetForAllNamespaces(), endpointsChanged);
    this.jobs = make('jobs', '/apis/batch/v1/jobs', () => batch.listJobForAllNamespaces(), endpointsChanged);
    this.profiles = make(
      'serviceprofiles',
      `/apis/${PROFILE_GROUP}/${PROFILE_VERSION}/${PROFILE_PLURAL}`,
      () => custom.listClusterCustomObject({ group: PROFILE_GROUP, version: PROFILE_VERSION, plural: PROFILE_PLURAL }) as Promise<KubernetesListObject<KubernetesObject>>,
      (o) => this.touch(this.profileListeners, namespaceOf(o)),
    );
    // Inbound policy (optional, as profiles: without the CRDs every port gets its default policy).
    const policyChanged = (): void => this.touch(this.policyListeners, '*');
    const policyInformer = (plural: string): ResilientInformer<KubernetesObject> =>
      make(
        plural,
        `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`,
        () => custom.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural }) as Promise<KubernetesListObject<KubernetesObject>>,
        policyChanged,
      );
    this.servers = policyInformer('servers');
    this.serverAuthorizations = policyInformer('serverauthorizations');
    // Pods matter to policy too: a Server selects pods by label.
    const podsChanged = (o: KubernetesObject): void => {
      endpointsChanged(o);
      policyChanged();
    };
    this.podCache = make('pods', '/api/v1/pods', () => core.listPodForAllNamespaces(), podsChanged);
    this.informers = [this.services, this.slices, this.podCache, this.replicaSets, this.jobs, this.profiles, this.servers, this.serverAuthorizations] as ReadonlyArray<
      ResilientInformer<KubernetesObject>
    >;
    const closed = new Promise<never>((_resolve, reject) => (this.rejectReady = reject));
    // ServiceProfiles are optional: without the CRD (or RBAC for it) the controller still serves
    // endpoints, with default profiles, and picks profiles up once they can be listed.
    let profileTimer: NodeJS.Timeout | undefined;
    const profilesOrGrace = Promise.race([
      this.profiles.synced,
      new Promise<void>((resolve) => {
        profileTimer = setTimeout(() => {
          this.log.warn('ServiceProfiles cannot be listed yet (is the serviceprofiles.sluice.dev CRD installed?); serving default profiles meanwhile', {});
          resolve();
        }, options.profileSyncGraceMs ?? PROFILE_SYNC_GRACE_MS);
        profileTimer.unref();
      }),
    ]).finally(() => clearTimeout(profileTimer));
    const optional: ReadonlyArray<ResilientInformer<KubernetesObject>> = [this.profiles, this.servers, this.serverAuthorizations];
    const required = this.informers.filter((i) => !optional.includes(i)).map((i) => i.synced);
    this.readyPromise = Promise.race([Promise.all([...required, profilesOrGrace]), closed]).then(() => {
      this.synced = true;
      this.log.info('kubernetes discovery synced', {});
      for (const listeners of [...this.serviceListeners.values(), ...this.profileListeners.values(), ...this.policyListeners.values()]) for (const l of listeners) this.dirty.add(l);
      this.scheduleFlush();
    });
    // Nobody may be waiting on ready(); closing before sync must not be an unhandled rejection.
    this.readyPromise.catch(() => {});
    for (const informer of this.informers) informer.start();
  }

  watchService(name: ServiceName, port: number, onUpdate: (state: ServiceState) => void): () => void {
    const compute = (): ServiceState =>
      serviceState(name, port, this.services.get(name.service, name.namespace), this.slices.list(name.namespace), this.context);
    return this.subscribe(this.serviceListeners, name.namespace, compute, onUpdate);
  }

  watchProfile(name: ServiceName, onUpdate: (profile: ProfileSpec | undefined) => void): () => void {
    const objectName = profileName(name, this.clusterDomain);
    const compute = (): ProfileSpec | undefined => {
      const object = this.profiles.get(objectName, name.namespace);
      if (!object) return undefined;
      const problems: string[] = [];
      const spec = toProfileSpec(object, problems);
      if (problems.length > 0) this.log.warn('ServiceProfile has malformed parts; ignoring them', { profile: `${name.namespace}/${objectName}`, problems: problems.join('; ') });
      return spec;
    };
    return this.subscribe(this.profileListeners, name.namespace, compute, onUpdate);
  }

  /** Servers and ServerAuthorizations, now and after every change; invalid ones are logged and left out. */
  watchPolicy(onChange: (resources: PolicyResources) => void): () => void {
    const compute = (): PolicyResources => ({
      servers: this.validResources(this.servers.list(), parseServer),
      authorizations: this.validResources(this.serverAuthorizations.list(), parseServerAuthorization),
    });
    return this.subscribe(this.policyListeners, '*', compute, onChange);
  }

  private validResources<T>(objects: readonly KubernetesObject[], parse: (o: unknown) => T): T[] {
    const out: T[] = [];
    for (const object of objects) {
      try {
        out.push(parse(object));
      } catch (error) {
        this.log.warn('policy resource ignored', { kind: object.kind, name: object.metadata?.name, namespace: object.metadata?.namespace, error: (error as Error).message });
      }
    }
    return out;
  }

  pods(): readonly PodInfo[] {
    return this.podCache.list().map((pod) => podInfo(pod, this.context.owner(pod)));
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectReady(new Error('kubernetes discovery closed'));
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    for (const informer of this.informers) informer.close();
  }

  /** Informer restarts and lists so far, per resource (for tests and diagnostics). */
  stats(): Record<string, { restarts: number; lists: number; resourceVersion: string }> {
    return Object.fromEntries(this.informers.map((i) => [i.resource, { restarts: i.restarts, lists: i.lists, resourceVersion: i.resourceVersion }]));
  }

  private subscribe<S>(registry: Map<string, Set<Listener>>, namespace: string, compute: () => S, onUpdate: (state: S) => void): () => void {
    let last: string | undefined;
    let stopped = false;
    const flush = (): void => {
      if (stopped || this.closed) return;
      const state = compute();
      const text = canonical(state);
      if (text === last) return;
      last = text;
      try {
        onUpdate(state);
      } catch (err) {
        this.log.error('discovery listener threw', { namespace, error: String(err) });
      }
    };
    const listener: Listener = { namespace, flush };
    let set = registry.get(namespace);
    if (!set) registry.set(namespace, (set = new Set()));
    set.add(listener);
    if (this.synced) {
      this.dirty.add(listener);
      this.scheduleFlush();
    }
    return () => {
      stopped = true;
      set.delete(listener);
      if (set.size === 0 && registry.get(namespace) === set) registry.delete(namespace);
      this.dirty.delete(listener);
    };
  }

  private touch(registry: Map<string, Set<Listener>>, namespace: string): void {
    const listeners = registry.get(namespace);
    if (!listeners || listeners.size === 0) return;
    for (const l of listeners) this.dirty.add(l);
    this.scheduleFlush();
  }

  /**
   * Changes are applied on the next macrotask, all together: a re-list that fires many events, or a
   * Service and its slices changing at once, gives one update per listener, not one per event.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed || !this.synced) return;
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      const listeners = [...this.dirty];
      this.dirty.clear();
      for (const listener of listeners) listener.flush();
    });
  }
}

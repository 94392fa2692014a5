// The seam between where the controller learns about services (Kubernetes, a local file) and what it
// serves (Destination.Get / GetProfile, ListPods, stat). Backends implement DiscoveryBackend.

import type { PolicyResources } from '../policy/resources.ts';

export interface ServiceName {
  readonly namespace: string;
  readonly service: string;
}

export interface Endpoint {
  readonly ip: string;
  /** The port the pod listens on (the Service port's target port, resolved). */
  readonly port: number;
  /** Linkerd's default weight. */
  readonly weight: number;
  /**
   * Per-endpoint metric labels, Linkerd's keys: `pod`, `namespace`, the owner kind (`deployment`,
   * `daemonset`, `statefulset`, `replicaset`, `replicationcontroller`, `job`, `cronjob`) = owner name,
   * `serviceaccount`, `pod_template_hash`, `zone` when known.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** The pod's TLS identity name when it is meshed (`<sa>.<ns>.serviceaccount.identity.<cp-ns>.<domain>`). */
  readonly identity: string | undefined;
  /** `h2` when the pod runs a Sluice proxy (proxies then speak HTTP/2 between them). */
  readonly protocolHint: 'h2' | undefined;
}

/** What a watched Service port resolves to right now. */
export type ServiceState =
  | { readonly kind: 'not-found' }
  | {
      readonly kind: 'endpoints';
      /** Set-level metric labels: `namespace`, `service`. */
      readonly labels: Readonly<Record<string, string>>;
      /** Empty when the Service exists but has no ready endpoints. */
      readonly endpoints: readonly Endpoint[];
    };

/** A ServiceProfile `spec`, in the CRD's own (camelCase) shape; see wire-facts §1.8. */
export interface ProfileSpec {
  readonly routes?: readonly RouteSpec[];
  readonly retryBudget?: { readonly retryRatio: number; readonly minRetriesPerSecond: number; readonly ttl: string };
  readonly dstOverrides?: ReadonlyArray<{ readonly authority: string; readonly weight: number | string }>;
  readonly opaquePorts?: readonly number[];
}

export interface RouteSpec {
  readonly name: string;
  readonly condition: RequestMatchSpec;
  readonly responseClasses?: ReadonlyArray<{ readonly condition: ResponseMatchSpec; readonly isFailure?: boolean }>;
  readonly isRetryable?: boolean;
  /** A Go-style duration such as `300ms`, `10s`. */
  readonly timeout?: string;
}

export interface RequestMatchSpec {
  readonly method?: string;
  readonly pathRegex?: string;
  readonly all?: readonly RequestMatchSpec[];
  readonly any?: readonly RequestMatchSpec[];
  readonly not?: RequestMatchSpec;
}

export interface ResponseMatchSpec {
  readonly status?: { readonly min?: number; readonly max?: number };
  readonly all?: readonly ResponseMatchSpec[];
  readonly any?: readonly ResponseMatchSpec[];
  readonly not?: ResponseMatchSpec;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string | undefined;
  /** The top owner (ReplicaSet → Deployment, Job → CronJob …), or undefined for a bare pod. */
  readonly owner: { readonly kind: string; readonly name: string } | undefined;
  readonly serviceAccount: string;
  /** Runs a Sluice proxy (has the proxy container / the injected annotation). */
  readonly meshed: boolean;
  /** Kubernetes pod phase: Pending, Running, Succeeded, Failed, Unknown. */
  readonly phase: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Named container ports (Kubernetes), for Servers that name their port. */
  readonly containerPorts?: Readonly<Record<string, number>>;
  /** The proxy's own inbound policy settings, read from its environment when the backend can see it. */
  readonly inboundPolicy?: { readonly defaultPolicy?: string; readonly requireIdentityPorts?: string };
}

export interface DiscoveryBackend {
  /**
   * Watches one port of a Service. `onUpdate` is called with the current state as soon as it is known
   * and again after every change (a full state each time, not a diff). Returns a function that stops.
   */
  watchService(name: ServiceName, port: number, onUpdate: (state: ServiceState) => void): () => void;
  /**
   * Watches the ServiceProfile named after a Service's FQDN (`svc.ns.svc.cluster.local`) in that
   * Service's namespace. `undefined` when there is none.
   */
  watchProfile(name: ServiceName, onUpdate: (profile: ProfileSpec | undefined) => void): () => void;
  /** Every pod the backend knows, for ListPods, `stat` (MESHED) and lookups by IP. */
  pods(): readonly PodInfo[];
  /**
   * Server and ServerAuthorization resources (the inbound policy API): `onChange` gets the current set
   * soon and again after every change. Absent: the backend has none to offer.
   */
  watchPolicy?(onChange: (resources: PolicyResources) => void): () => void;
  /** Resolves once the initial state has been loaded (informers synced, file read). */
  ready(): Promise<void>;
  close(): void;
}

// Optional capabilities a DiscoveryBackend may have beyond the `DiscoveryBackend` seam. The Destination
// service uses them when present (checked at run time) and degrades gracefully when not:
//   - `watchProfileIn`: a ServiceProfile for a Service, looked up in another namespace (the client's,
//     from `context_token`). Without it, only the profile in the Service's namespace is served.
//   - `serviceForIp`: the Service a cluster IP belongs to, so that GetProfile on `<clusterIP>:<port>`
//     answers with that Service's profile and `fully_qualified_name` (what Linkerd does, and what the
//     proxy's Destination client expects for connections it intercepted by IP). Without it, an IP is
//     looked up among pods only.
//   - `watchPods`: a signal that the pods or cluster IPs changed, for `IP:port` profile streams.
//     Without it, they are polled.
import type { DiscoveryBackend, ProfileSpec, ServiceName } from '../discovery/types.ts';

export interface NamespacedProfiles {
  /**
   * Watches the ServiceProfile named after `name`'s FQDN (`svc.ns.svc.<domain>`) in `profileNamespace`
   * (which may differ from `name.namespace`). Same contract as `watchProfile`.
   */
  watchProfileIn(
    profileNamespace: string,
    name: ServiceName,
    onUpdate: (profile: ProfileSpec | undefined) => void,
  ): () => void;
}

export interface PodChanges {
  /**
   * Calls `onChange` (without arguments) after the pod list or the Services' cluster IPs may have
   * changed. Returns a stop function.
   */
  watchPods(onChange: () => void): () => void;
}

export interface ServiceIps {
  /** The Service that has `ip` as a cluster IP, if any. */
  serviceForIp(ip: string): ServiceName | undefined;
}

export function hasServiceIps(backend: DiscoveryBackend): backend is DiscoveryBackend & ServiceIps {
  return typeof (backend as Partial<ServiceIps>).serviceForIp === 'function';
}

export function hasNamespacedProfiles(backend: DiscoveryBackend): backend is DiscoveryBackend & NamespacedProfiles {
  return typeof (backend as Partial<NamespacedProfiles>).watchProfileIn === 'function';
}

export function hasPodChanges(backend: DiscoveryBackend): backend is DiscoveryBackend & PodChanges {
  return typeof (backend as Partial<PodChanges>).watchPods === 'function';
}

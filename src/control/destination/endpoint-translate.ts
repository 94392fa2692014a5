// Pure translation of discovery states into Destination `Update` messages. The backend reports full
// states; the wire carries diffs: the first message is the whole set (`add`), later ones `add` what is
// new or changed (the proxy replaces an address it already has) and `remove` what is gone;
// `no_endpoints{exists:true}` when a known Service has no endpoints, `{exists:false}` once it is deleted.
import { identityName } from '../../api/identity-name.ts';
import type { Endpoint, PodInfo, ServiceState } from '../discovery/types.ts';
import { encodeTcpAddress, formatAddr, type TcpAddressMessage } from './addr.ts';

/** Linkerd's default endpoint weight. */
export const DEFAULT_WEIGHT = 10_000;

export interface WeightedAddrMessage {
  readonly addr: TcpAddressMessage;
  readonly weight: number;
  readonly metric_labels: Record<string, string>;
  readonly tls_identity?: {
    readonly dns_like_identity: { readonly name: string };
    readonly server_name: { readonly name: string };
  };
  readonly protocol_hint?: { readonly h2: Record<string, never> };
}

export type UpdateMessage =
  | { readonly add: { readonly addrs: WeightedAddrMessage[]; readonly metric_labels: Record<string, string> } }
  | { readonly remove: { readonly addrs: TcpAddressMessage[] } }
  | { readonly no_endpoints: { readonly exists: boolean } };

export function toWeightedAddr(endpoint: Endpoint): WeightedAddrMessage {
  const message: {
    -readonly [K in keyof WeightedAddrMessage]: WeightedAddrMessage[K];
  } = {
    addr: encodeTcpAddress(endpoint.ip, endpoint.port),
    weight: endpoint.weight,
    metric_labels: { ...endpoint.labels },
  };
  if (endpoint.identity !== undefined && endpoint.identity !== '') {
    message.tls_identity = {
      dns_like_identity: { name: endpoint.identity },
      server_name: { name: endpoint.identity },
    };
  }
  if (endpoint.protocolHint === 'h2') message.protocol_hint = { h2: {} };
  return message;
}

/** `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`, Linkerd's identity name. */
export function podIdentity(pod: PodInfo, controlPlaneNamespace: string, trustDomain: string): string {
  return identityName({ serviceAccount: pod.serviceAccount, namespace: pod.namespace }, { controlPlaneNamespace, trustDomain });
}

export interface IdentityOptions {
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
}

/** The endpoint a pod is at one port: what an `IP:port` profile lookup returns. */
export function podToEndpoint(pod: PodInfo, ip: string, port: number, options: IdentityOptions): Endpoint {
  const labels: Record<string, string> = { namespace: pod.namespace, pod: pod.name, serviceaccount: pod.serviceAccount };
  if (pod.owner !== undefined) labels[pod.owner.kind.toLowerCase()] = pod.owner.name;
  const hash = pod.labels['pod-template-hash'];
  if (hash !== undefined) labels['pod_template_hash'] = hash;
  if (pod.meshed) labels['control_plane_ns'] = options.controlPlaneNamespace;
  return {
    ip,
    port,
    weight: DEFAULT_WEIGHT,
    labels,
    identity: pod.meshed ? podIdentity(pod, options.controlPlaneNamespace, options.trustDomain) : undefined,
    protocolHint: pod.meshed ? 'h2' : undefined,
  };
}

/** Keeps the last state of one stream and turns each new full state into the updates to send. */
export class EndpointDiffer {
  /** By `ip:port`: the message last sent for it and its fingerprint. */
  private current = new Map<string, { message: WeightedAddrMessage; fingerprint: string }>();
  private phase: 'initial' | 'endpoints' | 'empty' | 'gone' = 'initial';
  /** Endpoints left out because their address could not be encoded. */
  skipped = 0;

  /** The endpoints the client has now, by `ip:port`. */
  get size(): number {
    return this.current.size;
  }

  /**
   * The updates that bring the client from the previous state to `state`, or `'not-found'` when the
   * very first state says the Service does not exist (the call then fails with NotFound).
   */
  next(state: ServiceState): UpdateMessage[] | 'not-found' {
    const first = this.phase === 'initial';
    if (state.kind === 'not-found') {
      if (first) return 'not-found';
      if (this.phase === 'gone') return [];
      this.current.clear();
      this.phase = 'gone';
      return [{ no_endpoints: { exists: false } }];
    }
    const wanted = new Map<string, { message: WeightedAddrMessage; fingerprint: string }>();
    for (const endpoint of state.endpoints) {
      let message: WeightedAddrMessage;
      let key: string;
      try {
        message = toWeightedAddr(endpoint);
        key = formatAddr(endpoint.ip, endpoint.port);
      } catch {
        this.skipped++;
        continue; // an address that cannot be encoded (a backend bug) is no endpoint
      }
      wanted.set(key, { message, fingerprint: JSON.stringify(message) });
    }
    const setLabels = { ...state.labels };
    if (wanted.size === 0) {
      const was = this.phase;
      this.current.clear();
      this.phase = 'empty';
      return was === 'empty' ? [] : [{ no_endpoints: { exists: true } }];
    }
    const updates: UpdateMessage[] = [];
    const added: WeightedAddrMessage[] = [];
    for (const [key, entry] of wanted) {
      if (this.current.get(key)?.fingerprint !== entry.fingerprint) added.push(entry.message);
    }
    const removed: TcpAddressMessage[] = [];
    for (const [key, entry] of this.current) {
      if (!wanted.has(key)) removed.push(entry.message.addr);
    }
    // Add before remove, so a client never sees an empty set during a rollover.
    if (added.length > 0) updates.push({ add: { addrs: added, metric_labels: setLabels } });
    if (removed.length > 0) updates.push({ remove: { addrs: removed } });
    this.current = wanted;
    this.phase = 'endpoints';
    return updates;
  }
}

// The inbound authorization policy of one port, as the proxy works with it: what Linkerd's
// io.linkerd.proxy.inbound.Server message says (proto/inbound.proto), reduced to plain data that crosses
// to worker threads unchanged. The default policies (`all-unauthenticated`…) are built here too, so the
// proxy without a controller, the proxy whose controller is unreachable, and the controller serving a
// port no Server selects all mean the same thing by the same name.
import type { Network } from '../config/networks.ts';

export const DEFAULT_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny'] as const;
export type DefaultPolicy = (typeof DEFAULT_POLICIES)[number];

/** A network a client address must be in, and the parts of it that are excluded. */
export interface PolicyNetwork {
  readonly net: Network;
  readonly except: readonly Network[];
}

/** Who the client must be. `mesh-tls` with `identities`/`suffixes` undefined accepts any mesh TLS client, even one without a certificate. */
export type PolicyAuthn =
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'mesh-tls'; readonly identities: readonly string[]; readonly suffixes: readonly (readonly string[])[] }
  | { readonly kind: 'mesh-tls-any' };

/** The names metrics carry (Linkerd's `srv_*` / `authz_*` labels). */
export interface PolicyRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

export interface PolicyAuthz {
  readonly ref: PolicyRef;
  readonly networks: readonly PolicyNetwork[];
  readonly authn: PolicyAuthn;
}

export type PolicyProtocol = 'detect' | 'opaque' | 'tls' | 'http1' | 'http2' | 'grpc';

export interface PortPolicy {
  readonly server: PolicyRef;
  readonly protocol: PolicyProtocol;
  /** Any one of them lets a client in; none (`deny`) lets no one in. */
  readonly authorizations: readonly PolicyAuthz[];
}

const ALL_NETWORKS: readonly PolicyNetwork[] = [
  { net: { family: 4, base: 0n, prefix: 0 }, except: [] },
  { net: { family: 6, base: 0n, prefix: 0 }, except: [] },
];
/** Any identity: one suffix of no parts matches every name (Linkerd's encoding of `*`). */
export const ANY_IDENTITY: PolicyAuthn = { kind: 'mesh-tls', identities: [], suffixes: [[]] };
const UNAUTHENTICATED: PolicyAuthn = { kind: 'unauthenticated' };

/**
 * The policy of a port no Server describes. A port that requires identity turns the unauthenticated
 * defaults into their authenticated twins (as Linkerd does), and leaves `deny` alone.
 */
export function defaultPortPolicy(policy: DefaultPolicy, requireIdentity: boolean, clusterNetworks: readonly Network[]): PortPolicy {
  const name = requireIdentity ? requireIdentityName(policy) : policy;
  const ref: PolicyRef = { group: '', kind: 'default', name };
  const networks = name.startsWith('cluster-') ? clusterNetworks.map((net) => ({ net, except: [] })) : ALL_NETWORKS;
  const authn = name.endsWith('-unauthenticated') ? UNAUTHENTICATED : ANY_IDENTITY;
  return { server: ref, protocol: 'detect', authorizations: name === 'deny' ? [] : [{ ref, networks, authn }] };
}

function requireIdentityName(policy: DefaultPolicy): string {
  switch (policy) {
    case 'all-unauthenticated':
      return 'all-authenticated';
    case 'cluster-unauthenticated':
      return 'cluster-authenticated';
    default:
      return policy;
  }
}

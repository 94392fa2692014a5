// What the controller tells a proxy about one of its inbound ports: the Server that selects the pod and
// port (the first by name when several do) with every ServerAuthorization that names it, or — no
// Server — the workload's default policy. Built as the proxy's own PortPolicy (src/api/inbound-policy.ts,
// the one meaning of the defaults), then written as the inbound.proto Server message in proto-loader's
// shape for grpc-js. Pure.
import { ANY_IDENTITY, defaultPortPolicy, type DefaultPolicy, type PolicyAuthn, type PolicyAuthz, type PolicyNetwork, type PolicyRef, type PortPolicy } from '../../api/inbound-policy.ts';
import { identityName, type IdentityDomain } from '../../api/identity-name.ts';
import { parseNetwork, type Network } from '../../config/networks.ts';
import { POLICY_GROUP, selects, type PolicyResources, type ProxyProtocol, type ServerAuthorizationResource, type ServerResource } from './resources.ts';

/** What the controller knows of the pod asking. */
export interface PolicyPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Named container ports, for Servers that name their port. */
  readonly containerPorts: Readonly<Record<string, number>>;
  /** The pod's own default, when the controller can see it (the proxy's environment in Kubernetes). */
  readonly defaultPolicy: DefaultPolicy | undefined;
  readonly requireIdentityPorts: ReadonlySet<number>;
}

export interface PolicyDefaults {
  /** The cluster's default inbound policy (the controller's --default-inbound-policy). */
  readonly defaultPolicy: DefaultPolicy;
  readonly clusterNetworks: readonly Network[];
  readonly identity: IdentityDomain;
}

const EVERYWHERE: readonly PolicyNetwork[] = [
  { net: { family: 4, base: 0n, prefix: 0 }, except: [] },
  { net: { family: 6, base: 0n, prefix: 0 }, except: [] },
];

const PROTOCOLS: Readonly<Record<ProxyProtocol, PortPolicy['protocol']>> = {
  unknown: 'detect',
  'HTTP/1': 'http1',
  'HTTP/2': 'http2',
  gRPC: 'grpc',
  opaque: 'opaque',
  TLS: 'tls',
};

export function serverFor(resources: PolicyResources, pod: PolicyPod, port: number): ServerResource | undefined {
  let found: ServerResource | undefined;
  for (const server of resources.servers) {
    if (server.namespace !== pod.namespace || !selects(server.podSelector, pod.labels)) continue;
    const serverPort = typeof server.port === 'number' ? server.port : pod.containerPorts[server.port];
    if (serverPort !== port) continue;
    if (found === undefined || server.name < found.name) found = server;
  }
  return found;
}

export function portPolicy(resources: PolicyResources, pod: PolicyPod, port: number, defaults: PolicyDefaults): PortPolicy {
  const server = serverFor(resources, pod, port);
  if (server === undefined) return defaultPortPolicy(pod.defaultPolicy ?? defaults.defaultPolicy, pod.requireIdentityPorts.has(port), defaults.clusterNetworks);
  const authorizations = resources.authorizations
    .filter((a) => a.namespace === server.namespace && (a.server.name !== undefined ? a.server.name === server.name : selects(a.server.selector ?? {}, server.labels)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((a) => authorizationsOf(a, defaults.identity));
  return { server: { group: POLICY_GROUP, kind: 'server', name: server.name }, protocol: PROTOCOLS[server.proxyProtocol], authorizations };
}

/** One ServerAuthorization: an authorization per kind of client it admits. */
function authorizationsOf(resource: ServerAuthorizationResource, identity: IdentityDomain): PolicyAuthz[] {
  const ref: PolicyRef = { group: POLICY_GROUP, kind: 'serverauthorization', name: resource.name };
  const { client } = resource;
  const networks =
    client.networks === undefined
      ? EVERYWHERE
      : client.networks.map((n) => ({ net: network(n.cidr), except: (n.except ?? []).map(network) }));
  const out: PolicyAuthz[] = [];
  if (client.unauthenticated) out.push({ ref, networks, authn: { kind: 'unauthenticated' } });
  const mesh = client.meshTLS;
  if (mesh !== undefined) {
    if (mesh.unauthenticatedTLS === true) out.push({ ref, networks, authn: { kind: 'mesh-tls-any' } });
    const authn = identitiesAuthn(mesh.identities ?? [], mesh.serviceAccounts ?? [], resource.namespace, identity);
    if (authn !== undefined) out.push({ ref, networks, authn });
  }
  return out;
}

function identitiesAuthn(
  names: readonly string[],
  accounts: readonly { name: string; namespace?: string }[],
  namespace: string,
  identity: IdentityDomain,
): PolicyAuthn | undefined {
  if (names.length === 0 && accounts.length === 0) return undefined;
  if (names.includes('*')) return ANY_IDENTITY;
  const identities = names.filter((n) => !n.startsWith('*.'));
  const suffixes = names.filter((n) => n.startsWith('*.')).map((n) => n.slice(2).split('.'));
  for (const account of accounts) identities.push(identityName({ serviceAccount: account.name, namespace: account.namespace ?? namespace }, identity));
  return { kind: 'mesh-tls', identities, suffixes };
}

function network(cidr: string): Network {
  return parseNetwork('cidr', cidr, cidr);
}

// ── The wire message (proto-loader shape: oneofs as set fields, 64-bit as decimal strings) ──

function ipNetwork(net: Network): object {
  if (net.family === 4) return { ip: { ipv4: Number(net.base) }, prefix_len: net.prefix };
  const first = (net.base >> 64n).toString();
  const last = (net.base & 0xffff_ffff_ffff_ffffn).toString();
  return { ip: { ipv6: { first, last } }, prefix_len: net.prefix };
}

function authnMessage(authn: PolicyAuthn): object {
  switch (authn.kind) {
    case 'unauthenticated':
      return { unauthenticated: {} };
    case 'mesh-tls-any':
      return { meshTLS: { unauthenticated: {} } };
    case 'mesh-tls':
      return { meshTLS: { identities: { identities: authn.identities.map((name) => ({ name })), suffixes: authn.suffixes.map((parts) => ({ parts })) } } };
    default:
      return authn satisfies never;
  }
}

const labelsOf = (ref: PolicyRef): Record<string, string> => ({ group: ref.group, kind: ref.kind, name: ref.name });

export function serverMessage(policy: PortPolicy): object {
  const protocol = policy.protocol === 'detect' ? { detect: { timeout: { seconds: 10, nanos: 0 } } } : { [policy.protocol]: {} };
  return {
    protocol,
    server_ips: [],
    labels: labelsOf(policy.server),
    authorizations: policy.authorizations.map((authz) => ({
      networks: authz.networks.map((n) => ({ net: ipNetwork(n.net), except: n.except.map(ipNetwork) })),
      authentication: authnMessage(authz.authn),
      labels: labelsOf(authz.ref),
      metadata: authz.ref.kind === 'default' ? { default: authz.ref.name } : { resource: { group: authz.ref.group, kind: authz.ref.kind, name: authz.ref.name } },
    })),
  };
}

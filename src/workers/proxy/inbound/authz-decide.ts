// Whether one inbound client may use a port: the first of the port's authorizations whose networks hold
// the client's address and whose authentication the client meets lets it in; none, and it is refused.
// Pure, so it is tested as a table; the caller caches the answer per client (authorizer.ts).
import { ipToBigInt } from '../../../config/networks.ts';
import type { PolicyAuthn, PolicyAuthz, PolicyNetwork, PortPolicy } from '../../../api/inbound-policy.ts';

export interface AuthzClient {
  /** The client's IP address as the socket reports it (IPv4-mapped IPv6 counts as IPv4). */
  readonly ip: string;
  /** The proxy terminated the client's mesh TLS. */
  readonly meshTls: boolean;
  /** The identity the client's certificate proved; undefined without mesh TLS or without a certificate. */
  readonly clientId: string | undefined;
}

/** The authorization that let the client in, or undefined: refused. */
export function decide(policy: PortPolicy, client: AuthzClient): PolicyAuthz | undefined {
  const ip = ipToBigInt(client.ip);
  for (const authz of policy.authorizations) {
    if (authenticated(authz.authn, client) && inAnyNetwork(authz.networks, ip)) return authz;
  }
  return undefined;
}

function authenticated(authn: PolicyAuthn, client: AuthzClient): boolean {
  switch (authn.kind) {
    case 'unauthenticated':
      return true;
    case 'mesh-tls-any':
      return client.meshTls;
    case 'mesh-tls': {
      const id = client.clientId;
      if (id === undefined) return false;
      if (authn.identities.includes(id)) return true;
      return authn.suffixes.some((parts) => hasSuffix(id, parts));
    }
    default:
      return authn satisfies never;
  }
}

/** `parts` ['ns','serviceaccount','identity','sluice','cluster','local'] matches `x.ns.serviceaccount…`; no parts match any name. */
function hasSuffix(id: string, parts: readonly string[]): boolean {
  if (parts.length === 0) return true;
  const suffix = parts.join('.');
  return id === suffix || id.endsWith(`.${suffix}`);
}

type Ip = ReturnType<typeof ipToBigInt>;

function inAnyNetwork(networks: readonly PolicyNetwork[], ip: Ip): boolean {
  if (ip === undefined) return false;
  for (const network of networks) {
    if (contains(network.net, ip) && !network.except.some((except) => contains(except, ip))) return true;
  }
  return false;
}

function contains(net: PolicyNetwork['net'], ip: NonNullable<Ip>): boolean {
  if (net.family !== ip.family) return false;
  const hostBits = BigInt((net.family === 4 ? 32 : 128) - net.prefix);
  return (ip.value >> hostBits) << hostBits === net.base;
}

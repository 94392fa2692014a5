// The Server message of the inbound policy API (proto/inbound.proto), decoded by the field tables into
// proto-loader's object shape, turned into the PortPolicy the workers judge with. Pure. A malformed
// network or an authentication of a kind this proxy does not know makes that one authorization admit
// no one: failing closed for the one rule, never for the whole port.
import type { PolicyAuthn, PolicyAuthz, PolicyNetwork, PolicyProtocol, PolicyRef, PortPolicy } from '../api/inbound-policy.ts';
import type { Network } from '../config/networks.ts';

interface IPAddressMsg {
  readonly ipv4?: number;
  readonly ipv6?: { readonly first?: string; readonly last?: string };
}
interface IPNetworkMsg {
  readonly ip?: IPAddressMsg;
  readonly prefix_len?: number;
}
interface AuthnMsg {
  readonly unauthenticated?: object;
  readonly meshTLS?: {
    readonly unauthenticated?: object;
    readonly identities?: {
      readonly identities?: readonly { readonly name?: string }[];
      readonly suffixes?: readonly { readonly parts?: readonly string[] }[];
    };
  };
}
interface AuthzMsg {
  readonly networks?: readonly { readonly net?: IPNetworkMsg; readonly except?: readonly IPNetworkMsg[] }[];
  readonly authentication?: AuthnMsg;
  readonly labels?: Readonly<Record<string, string>>;
  readonly metadata?: { readonly default?: string; readonly resource?: { readonly group?: string; readonly kind?: string; readonly name?: string } };
}
export interface ServerMsg {
  readonly protocol?: { readonly kind?: string };
  readonly authorizations?: readonly AuthzMsg[];
  readonly labels?: Readonly<Record<string, string>>;
}

const PROTOCOLS: ReadonlySet<string> = new Set(['detect', 'opaque', 'tls', 'http1', 'http2', 'grpc']);
const NOBODY: PolicyAuthn = { kind: 'mesh-tls', identities: [], suffixes: [] };

export function decodeNetwork(msg: IPNetworkMsg | undefined): Network | undefined {
  const ip = msg?.ip;
  const prefix = msg?.prefix_len ?? 0;
  if (ip?.ipv4 !== undefined) {
    if (prefix > 32) return undefined;
    const hostBits = BigInt(32 - prefix);
    return { family: 4, base: (BigInt(ip.ipv4 >>> 0) >> hostBits) << hostBits, prefix };
  }
  if (ip?.ipv6 !== undefined) {
    if (prefix > 128) return undefined;
    const value = (BigInt(ip.ipv6.first ?? '0') << 64n) | BigInt(ip.ipv6.last ?? '0');
    const hostBits = BigInt(128 - prefix);
    return { family: 6, base: (value >> hostBits) << hostBits, prefix };
  }
  return undefined;
}

function decodeAuthn(msg: AuthnMsg | undefined): PolicyAuthn {
  if (msg?.unauthenticated !== undefined) return { kind: 'unauthenticated' };
  const mesh = msg?.meshTLS;
  if (mesh?.unauthenticated !== undefined) return { kind: 'mesh-tls-any' };
  if (mesh?.identities !== undefined) {
    return {
      kind: 'mesh-tls',
      identities: (mesh.identities.identities ?? []).map((i) => i.name ?? '').filter((name) => name !== ''),
      suffixes: (mesh.identities.suffixes ?? []).map((s) => s.parts ?? []),
    };
  }
  return NOBODY;
}

function ref(labels: Readonly<Record<string, string>> | undefined, fallbackKind: string, fallbackName = ''): PolicyRef {
  return { group: labels?.['group'] ?? '', kind: labels?.['kind'] ?? fallbackKind, name: labels?.['name'] ?? fallbackName };
}

function decodeAuthz(msg: AuthzMsg, index: number): PolicyAuthz {
  const resource = msg.metadata?.resource;
  const named: PolicyRef =
    resource !== undefined
      ? { group: resource.group ?? '', kind: resource.kind ?? '', name: resource.name ?? '' }
      : msg.metadata?.default !== undefined
        ? { group: '', kind: 'default', name: msg.metadata.default }
        : ref(msg.labels, 'serverauthorization', `authz-${index}`);
  const networks: PolicyNetwork[] = [];
  let malformed = false;
  for (const network of msg.networks ?? []) {
    const net = decodeNetwork(network.net);
    const except = (network.except ?? []).map(decodeNetwork);
    if (net === undefined || except.some((e) => e === undefined)) malformed = true;
    else networks.push({ net, except: except as Network[] });
  }
  return { ref: named, networks: malformed ? [] : networks, authn: malformed ? NOBODY : decodeAuthn(msg.authentication) };
}

export function decodeServer(msg: ServerMsg): PortPolicy {
  const kind = msg.protocol?.kind;
  return {
    server: ref(msg.labels, 'server'),
    protocol: (kind !== undefined && PROTOCOLS.has(kind) ? kind : 'detect') as PolicyProtocol,
    authorizations: (msg.authorizations ?? []).map(decodeAuthz),
  };
}

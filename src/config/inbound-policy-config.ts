// The proxy's inbound authorization settings (Linkerd's LINKERD2_PROXY_INBOUND_DEFAULT_POLICY,
// …_INBOUND_PORTS_REQUIRE_IDENTITY, …_POLICY_CLUSTER_NETWORKS, …_POLICY_SVC_ADDR and …_POLICY_WORKLOAD
// twins), parsed once at start with the rest of the configuration. docs/authorization.md explains them.
import { DEFAULT_POLICIES, type DefaultPolicy } from '../api/inbound-policy.ts';
import { DEFAULT_PROFILE_NETWORKS } from './destination-config.ts';
import { parseNetworks, type Network } from './networks.ts';
import { ConfigError, parseHostPort, parsePortList, type HostPort } from './parse.ts';

export interface InboundPolicyConfig {
  /** What a port no Server describes allows (and what applies while the controller cannot be asked). */
  readonly defaultPolicy: DefaultPolicy;
  /** Ports whose default policy only admits clients with a mesh identity. */
  readonly requireIdentityPorts: ReadonlySet<number>;
  /** What `cluster-*` policies mean by "the cluster". */
  readonly clusterNetworks: readonly Network[];
  /** The InboundServerPolicies service; undefined = the defaults above are the whole policy. */
  readonly svcAddr: HostPort | undefined;
  /** Sent as PortSpec.workload: `{"ns":…,"pod":…}`. */
  readonly workload: string;
  /** How many inbound ports the proxy watches a policy for at most; later ports get the default. */
  readonly maxWatchedPorts: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * The policy service, set explicitly (the injector sets it to the controller's 8086, where Destination
 * is too); `destination` stands for the Destination service's address; unset or `off`: none.
 */
function svcAddr(env: Env, destination: HostPort | undefined): HostPort | undefined {
  const name = 'SLUICE_PROXY_POLICY_SVC_ADDR';
  const value = read(env, name);
  if (value === undefined || value.toLowerCase() === 'off') return undefined;
  if (value.toLowerCase() === 'destination') {
    if (destination === undefined) throw new ConfigError(name, value, 'names the Destination service, but SLUICE_PROXY_DESTINATION_SVC_ADDR is not set');
    return destination;
  }
  return parseHostPort(name, value);
}

function workload(env: Env, podName: string, podNamespace: string): string {
  const name = 'SLUICE_PROXY_POLICY_WORKLOAD';
  const value = read(env, name);
  if (value === undefined) return JSON.stringify({ ns: podNamespace, pod: podName });
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const fields = parsed as { ns?: unknown; pod?: unknown } | undefined;
  if (typeof fields !== 'object' || fields === null || typeof fields.ns !== 'string' || typeof fields.pod !== 'string') {
    throw new ConfigError(name, value, 'expected a JSON object such as {"ns":"default","pod":"web-0"}');
  }
  return value;
}

export function parseInboundPolicyConfig(env: Env, destination: HostPort | undefined, podName: string, podNamespace: string): InboundPolicyConfig {
  const policyName = 'SLUICE_PROXY_INBOUND_DEFAULT_POLICY';
  const policy = read(env, policyName) ?? 'all-unauthenticated';
  if (!(DEFAULT_POLICIES as readonly string[]).includes(policy)) {
    throw new ConfigError(policyName, policy, `expected one of ${DEFAULT_POLICIES.join(', ')}`);
  }
  const portsName = 'SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY';
  const networksName = 'SLUICE_PROXY_POLICY_CLUSTER_NETWORKS';
  return {
    defaultPolicy: policy as DefaultPolicy,
    requireIdentityPorts: new Set(parsePortList(portsName, read(env, portsName) ?? '')),
    clusterNetworks: parseNetworks(networksName, read(env, networksName) ?? DEFAULT_PROFILE_NETWORKS),
    svcAddr: svcAddr(env, destination),
    workload: workload(env, podName, podNamespace),
    maxWatchedPorts: 64,
  };
}

/**
 * Whether inbound connections are authorized at all. The default policy with no port requiring identity
 * and no controller to ask lets everyone in: then nothing is loaded, checked or counted for it.
 */
export function authorizationActive(config: InboundPolicyConfig): boolean {
  return config.defaultPolicy !== 'all-unauthenticated' || config.requireIdentityPorts.size > 0 || config.svcAddr !== undefined;
}

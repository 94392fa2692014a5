// Inbound authorization on one serving thread: the policy of each port (from the controller, through the
// acceptor; else the default), and per port a cache of verdicts by client — identity, address, mesh TLS —
// so that a connection pays one map lookup, not a walk over the port's authorizations. A policy update
// replaces the port's policy and forgets its verdicts: new connections are judged by it, and open
// connections it no longer allows are closed (counted in inbound_tcp_authz_terminate_total, as Linkerd
// does; docs/authorization.md).
//
// Loaded only when authorization is active (inbound-policy-config.ts): a proxy that lets everyone in
// checks and counts nothing for it.
import { defaultPortPolicy, type PolicyAuthz, type PortPolicy } from '../../../api/inbound-policy.ts';
import type { InboundPolicyConfig } from '../../../config/inbound-policy-config.ts';
import { labels, type Counter, type Family, type Registry } from '../../../telemetry/metrics.ts';
import { targetLabels } from '../../../telemetry/proxy-metrics.ts';
import type net from 'node:net';
import type { AcceptedConnection } from '../context.ts';
import { decide } from './authz-decide.ts';

/** Verdicts kept per port before the cache starts over (a scan of many client addresses must not grow it without end). */
const VERDICTS_PER_PORT = 4096;

interface AuthzFamilies {
  readonly httpAllow: Family<Counter>;
  readonly httpDeny: Family<Counter>;
  readonly tcpAllow: Family<Counter>;
  readonly tcpDeny: Family<Counter>;
  readonly tcpTerminate: Family<Counter>;
}

interface OpenConnection {
  readonly conn: AcceptedConnection;
  readonly ip: string;
}

/** One client's answer on one port, with the counters it is counted in (series made when first counted). */
export class Verdict {
  readonly allowed: boolean;
  readonly policy: PortPolicy;
  readonly authz: PolicyAuthz | undefined;
  private readonly families: AuthzFamilies;
  private readonly labels: string;
  private tcpCounter: Counter | undefined;
  private httpCounter: Counter | undefined;

  constructor(families: AuthzFamilies, policy: PortPolicy, authz: PolicyAuthz | undefined, port: number, target: string, tls: string) {
    this.families = families;
    this.policy = policy;
    this.authz = authz;
    this.allowed = authz !== undefined;
    const server = policy.server;
    const srv = labels({ srv_group: server.group, srv_kind: server.kind, srv_name: server.name, srv_port: port });
    const authzLabels = authz === undefined ? '' : `,${labels({ authz_group: authz.ref.group, authz_kind: authz.ref.kind, authz_name: authz.ref.name })}`;
    this.labels = `${target},${srv}${authzLabels},${tls}`;
  }

  /** A TCP connection (opaque, or TLS not addressed to the mesh) was let in or refused. */
  countTcp(): void {
    this.tcpCounter ??= (this.allowed ? this.families.tcpAllow : this.families.tcpDeny).get(this.labels);
    this.tcpCounter.inc();
  }

  /** An open connection this verdict let in was closed because a policy update no longer allows it. */
  countTerminated(): void {
    this.families.tcpTerminate.get(this.labels).inc();
  }

  /** An HTTP request was let in or refused. */
  countHttp(): void {
    this.httpCounter ??= (this.allowed ? this.families.httpAllow : this.families.httpDeny).get(this.labels);
    this.httpCounter.inc();
  }
}

export class InboundAuthorizer {
  private readonly config: InboundPolicyConfig;
  private readonly families: AuthzFamilies;
  /** What the controller said, per port; a port not here has its default policy. */
  private readonly served = new Map<number, PortPolicy>();
  private readonly defaults = new Map<number, PortPolicy>();
  private readonly verdicts = new Map<number, Map<string, Verdict>>();
  /** Connections let in, per port, to judge again when the port's policy changes. */
  private readonly open = new Map<number, Map<net.Socket, OpenConnection>>();

  constructor(config: InboundPolicyConfig, registry: Registry) {
    this.config = config;
    this.families = {
      httpAllow: registry.counter('inbound_http_authz_allow_total', 'Inbound HTTP requests an authorization allowed.'),
      httpDeny: registry.counter('inbound_http_authz_deny_total', 'Inbound HTTP requests refused because no authorization allowed them.'),
      tcpAllow: registry.counter('inbound_tcp_authz_allow_total', 'Inbound TCP connections an authorization allowed.'),
      tcpDeny: registry.counter('inbound_tcp_authz_deny_total', 'Inbound TCP connections refused because no authorization allowed them.'),
      tcpTerminate: registry.counter('inbound_tcp_authz_terminate_total', 'Open inbound connections closed because a policy update no longer allowed them.'),
    };
  }

  /** The controller's policy for `port`; undefined returns the port to its default policy. */
  update(port: number, policy: PortPolicy | undefined): void {
    if (policy === undefined) this.served.delete(port);
    else this.served.set(port, policy);
    this.verdicts.delete(port);
    const open = this.open.get(port);
    if (open === undefined) return;
    for (const [socket, { conn, ip }] of open) {
      const verdict = this.check(conn, ip);
      if (verdict.allowed) continue;
      verdict.countTerminated();
      open.delete(socket);
      socket.destroy();
    }
  }

  /** Keeps a connection the verdict let in, until it closes, for policy updates to judge again. */
  admitted(socket: net.Socket, conn: AcceptedConnection, ip: string): void {
    const port = conn.target?.port ?? 0;
    let open = this.open.get(port);
    if (open === undefined) this.open.set(port, (open = new Map()));
    open.set(socket, { conn, ip });
    socket.once('close', () => open.delete(socket));
  }

  policyOf(port: number): PortPolicy {
    const served = this.served.get(port);
    if (served !== undefined) return served;
    let policy = this.defaults.get(port);
    if (policy === undefined) {
      const { defaultPolicy, requireIdentityPorts, clusterNetworks } = this.config;
      policy = defaultPortPolicy(defaultPolicy, requireIdentityPorts.has(port), clusterNetworks);
      this.defaults.set(port, policy);
    }
    return policy;
  }

  /** The verdict on an inbound connection whose client is at `ip`. */
  check(conn: AcceptedConnection, ip: string): Verdict {
    const port = conn.target?.port ?? 0;
    let byClient = this.verdicts.get(port);
    if (byClient === undefined) this.verdicts.set(port, (byClient = new Map()));
    const key = `${conn.meshTls ? (conn.clientId ?? '') : '\0'}\0${ip}\0${conn.target?.host ?? ''}`;
    let verdict = byClient.get(key);
    if (verdict === undefined) {
      const policy = this.policyOf(port);
      const authz = decide(policy, { ip, meshTls: conn.meshTls, clientId: conn.clientId });
      if (byClient.size >= VERDICTS_PER_PORT) byClient.clear();
      verdict = new Verdict(this.families, policy, authz, port, targetLabels(conn.target), conn.tlsLabels);
      byClient.set(key, verdict);
    }
    return verdict;
  }
}

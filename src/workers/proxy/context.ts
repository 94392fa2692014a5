// What every stack of one serving thread shares: its configuration, log, metrics, sockets, caches and
// taps. A plain context: it builds nothing and dispatches nothing (stacks.ts does). A worker thread has
// one; with SLUICE_PROXY_WORKERS=0 the main thread has one.
import type { HostPort } from '../../config/parse.ts';
import type { ProxyConfig } from '../../config/proxy-config.ts';
import type { Logger } from '../../log/logger.ts';
import type { Snapshot } from '../../telemetry/metrics.ts';
import { ProxyMetrics, type Direction } from '../../telemetry/proxy-metrics.ts';
import { SocketTracker } from '../transport/connect.ts';
import { DnsCache } from '../transport/dns-cache.ts';
import { TapRegistry } from '../tap/registry.ts';
import type { LocalIdentity } from '../transport/local-identity.ts';
import { MeshCredentials } from '../tls/mesh-credentials.ts';
import { AuthorityCache, type ConnectionInfo } from './routing.ts';

export interface AcceptedConnection extends ConnectionInfo {
  /** The client's address, for logs. */
  readonly peer: string;
  /** Where the connection's bytes go when nothing in them says otherwise. */
  readonly target: HostPort | undefined;
  /** The proxy terminated the client's mesh TLS (inbound): the bytes seen here are the decrypted ones. */
  readonly meshTls: boolean;
  /** The client's verified identity over mesh TLS; undefined for plaintext and unauthenticated clients. */
  readonly clientId: string | undefined;
  /** The connection's `tls` metric labels (proxy-metrics.ts), fixed once it is accepted or terminated. */
  readonly tlsLabels: string;
  /** Inbound, with authorization active: the verdict that let the connection in, counting each HTTP request (inbound/authorizer.ts). */
  readonly authz?: { countHttp(): void };
}

export class WorkerContext {
  readonly config: ProxyConfig;
  readonly log: Logger;
  readonly metrics = new ProxyMetrics();
  readonly tracker = new SocketTracker();
  readonly authorities = new AuthorityCache();
  readonly dns = new DnsCache();
  /** Taps installed by the main thread's Tap server; `taps.active` is false while there are none. */
  readonly taps = new TapRegistry();
  /** Set once by a graceful shutdown: new connections are refused, kept-alive ones wind down. */
  draining = false;
  /** The proxy's current certificate (issue 8); undefined until the Identity service issued one, or when
   * identity is disabled: then the mesh hop stays plaintext. */
  identity: LocalIdentity | undefined;
  private credentials: { readonly identity: LocalIdentity; readonly creds: MeshCredentials | undefined } | undefined;

  constructor(config: ProxyConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  connectTimeoutMs(direction: Direction): number {
    return direction === 'inbound' ? this.config.inboundConnectTimeoutMs : this.config.outboundConnectTimeoutMs;
  }

  /**
   * The mesh TLS credentials of the current identity, built the first time it is used (this loads
   * node:tls); undefined without an identity, or when its PEM does not load (logged once: the mesh hop
   * then stays plaintext rather than failing every connection).
   */
  meshCredentials(): MeshCredentials | undefined {
    const identity = this.identity;
    if (identity === undefined) return undefined;
    const held = this.credentials;
    if (held !== undefined && held.identity === identity) return held.creds;
    let creds: MeshCredentials | undefined;
    try {
      creds = new MeshCredentials(identity, this.config.detectTimeoutMs);
    } catch (error) {
      this.log.error('identity certificate or key does not load; mesh TLS is off until the next one', {
        identity: identity.name,
        error: (error as Error).message,
      });
    }
    this.credentials = { identity, creds };
    return creds;
  }

  snapshot(): Snapshot {
    this.tracker.flush();
    return this.metrics.registry.snapshot();
  }
}

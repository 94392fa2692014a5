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
import { AuthorityCache, type ConnectionInfo } from './routing.ts';

export interface AcceptedConnection extends ConnectionInfo {
  /** The client's address, for logs. */
  readonly peer: string;
  /** Where the connection's bytes go when nothing in them says otherwise. */
  readonly target: HostPort | undefined;
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

  constructor(config: ProxyConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  connectTimeoutMs(direction: Direction): number {
    return direction === 'inbound' ? this.config.inboundConnectTimeoutMs : this.config.outboundConnectTimeoutMs;
  }

  snapshot(): Snapshot {
    this.tracker.flush();
    return this.metrics.registry.snapshot();
  }
}

// Everything one serving thread owns: its metrics, its sockets, and its protocol stacks per direction.
// A worker thread has one; with SLUICE_PROXY_WORKERS=0 the main thread has one.
import type net from 'node:net';
import type { HostPort } from '../../config/parse.ts';
import type { ProxyConfig } from '../../config/proxy-config.ts';
import type { Logger } from '../../log/logger.ts';
import type { Snapshot } from '../../telemetry/metrics.ts';
import { ProxyMetrics, type Direction } from '../../telemetry/proxy-metrics.ts';
import { DnsCache } from '../transport/dns-cache.ts';
import type { Mesh } from './outbound/mesh.ts';
import { Http1Proxy } from './http1/node-stack.ts';
import { H2Proxy } from './http2/stack.ts';
import { AuthorityCache, type ConnectionInfo } from './routing.ts';
import { serveConnection } from './serve.ts';
import { TapRegistry } from '../tap/tap.ts';
import { SocketTracker } from '../transport/connect.ts';

export interface AcceptedConnection extends ConnectionInfo {
  /** The client's address, for logs. */
  readonly peer: string;
  /** Where the connection's bytes go when nothing in them says otherwise. */
  readonly target: HostPort | undefined;
}

export class Runtime {
  readonly config: ProxyConfig;
  readonly log: Logger;
  readonly metrics = new ProxyMetrics();
  readonly tracker = new SocketTracker();
  readonly authorities = new AuthorityCache();
  readonly dns = new DnsCache();
  /** Taps installed by the main thread's Tap server; `taps.active` is false while there are none. */
  readonly taps = new TapRegistry();
  draining = false;
  /** Control-plane-driven outbound routing (mesh.ts); set by the thread's owner when a controller is configured. */
  mesh: Mesh | undefined;
  private readonly http1Stacks = new Map<Direction, Http1Proxy>();
  private readonly h2Stacks = new Map<Direction, H2Proxy>();

  constructor(config: ProxyConfig, log: Logger) {
    this.config = config;
    this.log = log;
  }

  serve(socket: net.Socket, info: ConnectionInfo): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    serveConnection(this, socket, info);
  }

  connectTimeoutMs(direction: Direction): number {
    return direction === 'inbound' ? this.config.inboundConnectTimeoutMs : this.config.outboundConnectTimeoutMs;
  }

  http1(direction: Direction): Http1Proxy {
    let stack = this.http1Stacks.get(direction);
    if (stack === undefined) {
      stack = new Http1Proxy(this, direction);
      this.http1Stacks.set(direction, stack);
    }
    return stack;
  }

  h2(direction: Direction): H2Proxy {
    let stack = this.h2Stacks.get(direction);
    if (stack === undefined) {
      stack = new H2Proxy(this, direction);
      this.h2Stacks.set(direction, stack);
    }
    return stack;
  }

  snapshot(): Snapshot {
    this.tracker.flush();
    return this.metrics.registry.snapshot();
  }

  /**
   * Graceful shutdown of this thread's connections: HTTP/2 clients get GOAWAY, HTTP/1 connections close
   * when idle or after their current response, TCP tunnels run on. Resolves when every socket has
   * closed, or after `graceMs`, when whatever remains is closed by force.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const stack of this.h2Stacks.values()) stack.drain();
    for (const stack of this.http1Stacks.values()) stack.drain();
    this.mesh?.drain();
    // HTTP/1 connections that become idle later close on their own: responses now say Connection: close.
    const idle = this.tracker.whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), graceMs);
    });
    const outcome = await Promise.race([idle, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.log.warn('shutdown grace period over; closing remaining connections', { open: this.tracker.size });
      this.tracker.destroyAll();
    }
  }
}

// Control-plane-driven routing in a worker: outbound HTTP/1.1, HTTP/2 (gRPC) and TCP to destinations
// the Destination service knows are balanced over their endpoints (P2C over peak-EWMA), with the
// destination's profile routes (timeouts, retries, route metrics) and failure accrual. Everything else,
// and any destination the controller does not know or could not be asked about, takes the existing path.
//
// Each entry point returns false when it does not take the request (the caller goes on as before), and
// true when it does; it may then still hand the request back through `fallback` once the first answer
// about a destination turns out to be "not in the mesh".
import type http from 'node:http';
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';
import type { DiscoveryState } from '../../discovery/state.ts';
import { Destination, DestinationCache, destinationKey, type DiscoveryChannel } from '../../discovery/destination-cache.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import type { Http1MeshRouter, Http1Proxy } from '../http1/node-stack.ts';
import type { Http1Mesh } from '../http1/exchange-env.ts';
import { forwardMeshHttp1 } from './http1-exchange.ts';
import { forwardMeshTcp } from './tcp.ts';
import type { MeshContext } from './mesh-context.ts';
import type { TcpMeshRouter } from '../tcp/forward.ts';
import { RouteMetrics } from '../../profiles/route-metrics.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';

/** Connections kept per endpoint address, to close when the endpoint leaves every destination. */
export interface EndpointConnections {
  retire(addr: HostPort): void;
  reinstate(addr: HostPort): void;
}

export class Mesh implements MeshContext, Http1MeshRouter, TcpMeshRouter, Http1Mesh {
  readonly ctx: WorkerContext;
  readonly cache: DestinationCache;
  readonly routes: RouteMetrics;
  /** HTTP/1 pool keys (`host:port:`) of endpoints gone from every destination: their sockets close when freed. */
  private readonly pools: EndpointConnections[] = [];

  constructor(ctx: WorkerContext, channel: DiscoveryChannel) {
    this.ctx = ctx;
    const { config } = ctx;
    this.routes = new RouteMetrics(ctx.metrics.registry);
    this.cache = new DestinationCache(channel, {
      suffixes: config.destinationProfileSuffixes,
      networks: config.destinationProfileNetworks,
      initialTimeoutMs: config.controlStreamInitialTimeoutMs,
      idleTimeoutMs: config.outboundDiscoveryIdleTimeoutMs,
      accrual: config.failureAccrual,
      budgetShare: 1 / Math.max(1, config.workers),
      retired: (endpoints) => this.retire(endpoints),
      invalidRegex: (authority, regex) => ctx.log.warn('profile route path regex does not compile; the route never matches', { authority, regex }),
    });
  }

  /** A pool whose connections to endpoints that left must close (the fast engine's, the node:http agent's). */
  addPool(pool: EndpointConnections): void {
    this.pools.push(pool);
  }

  lookup(key: string, done: (dest: Destination | undefined) => void): void {
    this.cache.lookup(key, done);
  }

  now(): number {
    return this.cache.now();
  }

  /** A state pushed by the main thread. */
  update(authority: string, state: DiscoveryState): void {
    this.cache.update(authority, state);
    // An address that comes back must not have its new connections closed.
    if (state.kind === 'resolved' && this.pools.length > 0) {
      for (const e of state.endpoints) for (const pool of this.pools) pool.reinstate({ host: e.host, port: e.port });
    }
  }

  /** The destination key of an outbound target, when the controller should be asked about it. */
  keyFor(target: HostPort): string | undefined {
    return this.cache.discoverable(target.host) ? destinationKey(target) : undefined;
  }

  /**
   * An outbound HTTP/1 request for `target` (the authority's host and port). `fallback` continues on
   * the existing path (DNS, then the original destination).
   */
  http1(
    stack: Http1Proxy,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    conn: AcceptedConnection,
    target: HostPort,
    path: string,
    start: number,
    fallback: () => void,
  ): boolean {
    if (conn.direction !== 'outbound') return false;
    const key = this.keyFor(target);
    if (key === undefined) return false;
    return this.take(key, fallback, (dest) => forwardMeshHttp1(this, stack, dest, req, res, target, path, start));
  }

  /** An outbound TCP connection (also TLS passed through) to `conn.target`, balanced per connection. */
  tcp(client: net.Socket, conn: AcceptedConnection, prefix: Buffer | undefined, fallback: () => void): boolean {
    if (conn.direction !== 'outbound' || conn.target === undefined) return false;
    const key = this.keyFor(conn.target);
    if (key === undefined) return false;
    const fallbackIfOpen = (): void => {
      if (!client.destroyed) fallback();
    };
    return this.take(key, fallbackIfOpen, (dest) => forwardMeshTcp(this, dest, client, conn, prefix));
  }

  /**
   * Looks the destination up: false when it is already known to be outside the mesh (the caller goes
   * on at once); otherwise true, and `use` or `fallback` runs when the answer is there (at once when
   * it already is).
   */
  private take(key: string, fallback: () => void, use: (dest: Destination) => void): boolean {
    let sync = true;
    let known: Destination | undefined | null = null;
    this.cache.lookup(key, (dest) => {
      if (sync) {
        known = dest;
        return;
      }
      if (dest === undefined) fallback();
      else use(dest);
    });
    sync = false;
    if (known === null) return true; // waiting for the first answer
    if (known === undefined) return false;
    use(known);
    return true;
  }

  /** Stops new work on endpoints that left; their idle connections close, busy ones after their exchange. */
  private retire(endpoints: readonly Endpoint[]): void {
    const still = new Set<string>();
    for (const e of this.cache.allEndpoints()) if (!e.removed) still.add(e.key);
    for (const endpoint of endpoints) {
      if (still.has(endpoint.key)) continue;
      for (const pool of this.pools) pool.retire(endpoint.addr);
    }
  }

  /** Shutdown: nothing new is asked (the stacks close their own connections as they drain). */
  drain(): void {
    this.cache.close();
  }
}

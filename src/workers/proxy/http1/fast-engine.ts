// The fast HTTP/1 engine (SLUICE_PROXY_HTTP1_ENGINE=fast, the default) of one direction: client
// connections on raw sockets (client-conn.ts), each request an Exchange (exchange.ts) over a keep-alive
// pool of raw upstream connections (upstream-pool.ts). It serves the direct path and the mesh path
// (balanced endpoints, retries, route metrics) and taps alike; the node:http stack (node-stack.ts) takes
// only what the engine does not frame. One timer per engine checks every deadline.
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { ClientConn, type ClientEnv } from './client-conn.ts';
import type { Http1Mesh, Http1Upgrades } from './exchange-env.ts';
import type { Http1Proxy } from './node-stack.ts';
import { UpstreamPool } from './upstream-pool.ts';
import { resolveTarget } from '../resolve-target.ts';

export class FastHttp1Engine implements ClientEnv {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  private readonly fallbackStack: () => Http1Proxy;
  readonly pool: UpstreamPool;
  /** Set once at start when a controller is configured (outbound only). */
  mesh: Http1Mesh | undefined;
  /** Outbound with a controller, once the HTTP/2 engine is loaded: HTTP/1 across the mesh hop as HTTP/2. */
  upgrades: Http1Upgrades | undefined;
  private readonly clients = new Set<ClientConn>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(ctx: WorkerContext, direction: Direction, fallback: () => Http1Proxy) {
    this.ctx = ctx;
    this.direction = direction;
    this.fallbackStack = fallback;
    this.pool = new UpstreamPool(ctx, direction);
  }

  serve(socket: net.Socket, conn: AcceptedConnection): void {
    const client = new ClientConn(this, socket, conn);
    this.clients.add(client);
    this.startSweeper();
    client.start();
  }

  /** The node:http stack, built on first use. */
  get fallback(): Http1Proxy {
    return this.fallbackStack();
  }

  resolve(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void {
    resolveTarget(this.ctx, conn, target, done);
  }

  forget(client: ClientConn): void {
    this.clients.delete(client);
  }

  /** Keeps the sweep running: also for exchanges not on a client connection of its own (orig-proto/downgrade.ts). */
  startSweeper(): void {
    if (this.sweeper !== undefined) return;
    const { httpHeaderTimeoutMs, httpResponseTimeoutMs, httpPoolIdleTimeoutMs } = this.ctx.config;
    let shortest = httpHeaderTimeoutMs;
    if (httpResponseTimeoutMs > 0) shortest = Math.min(shortest, httpResponseTimeoutMs);
    if (httpPoolIdleTimeoutMs > 0) shortest = Math.min(shortest, httpPoolIdleTimeoutMs);
    // Route timeouts (ServiceProfiles) can be shorter than the proxy's: a 10 ms floor keeps them honest.
    const period = Math.max(10, Math.min(100, Math.floor(shortest / 10)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** One timer per thread and direction: header, response, idle and pool deadlines, and draining. */
  private sweep(): void {
    const now = performance.now();
    for (const client of this.clients) client.check(now);
    this.pool.sweep(now, this.ctx.config.httpPoolIdleTimeoutMs);
    if (this.clients.size === 0 && this.pool.idleKeys === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

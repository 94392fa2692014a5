// The proxy of one serving thread, built once at start: per direction an HTTP/1 stack (the fast engine,
// with the node:http stack behind it for what the engine hands over), an HTTP/2 stack, and opaque TCP;
// outbound, when a controller is configured, the mesh (discovery, balancing, retries) in front of them.
// A detected connection is dispatched here to the stack of its protocol.
import type net from 'node:net';
import type { DiscoveryState } from '../discovery/state.ts';
import type { DiscoveryChannel } from '../discovery/destination-cache.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import { detectConnection, type Decision } from './detect-connection.ts';
import { FastHttp1Engine } from './http1/fast-engine.ts';
import { AgentConnections } from './http1/agent-connections.ts';
import { Http1Proxy } from './http1/node-stack.ts';
import { H2Proxy } from './http2/stack.ts';
import { Mesh } from './outbound/mesh.ts';
import type { ConnectionInfo } from './routing.ts';
import { forwardTcp } from './tcp/forward.ts';

/**
 * One direction's stacks. The node:http and node:http2 based ones are built the first time a
 * connection needs them (they load those modules, ~10 MB per thread); the fast engine at start.
 */
class DirectionStacks {
  readonly fast: FastHttp1Engine;
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;
  private h2Stack: H2Proxy | undefined;
  private http1Stack: Http1Proxy | undefined;
  /** Control-plane routing; outbound only. */
  mesh: Mesh | undefined;

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
    this.fast = new FastHttp1Engine(ctx, direction, () => this.http1);
  }

  get http1(): Http1Proxy {
    if (this.http1Stack === undefined) {
      const stack = new Http1Proxy(this.ctx, this.direction);
      stack.mesh = this.mesh;
      this.mesh?.addPool(new AgentConnections(stack.agent));
      this.http1Stack = stack;
    }
    return this.http1Stack;
  }

  get h2(): H2Proxy {
    if (this.h2Stack === undefined) {
      this.h2Stack = new H2Proxy(this.ctx, this.direction);
      this.h2Stack.mesh = this.mesh;
    }
    return this.h2Stack;
  }

  drain(): void {
    this.h2Stack?.drain();
    this.http1Stack?.drain();
  }
}

export class ProxyStacks {
  readonly ctx: WorkerContext;
  private readonly inbound: DirectionStacks;
  private readonly outbound: DirectionStacks;
  /** Control-plane routing of outbound traffic; undefined without a controller. */
  private mesh: Mesh | undefined;
  private readonly dispatch = (socket: net.Socket, conn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined): void =>
    this.onDetected(socket, conn, decision, prefix);

  constructor(ctx: WorkerContext) {
    this.ctx = ctx;
    this.inbound = new DirectionStacks(ctx, 'inbound');
    this.outbound = new DirectionStacks(ctx, 'outbound');
  }

  /** Turns on control-plane routing for outbound traffic; called once, before the first connection. */
  enableDiscovery(channel: DiscoveryChannel): void {
    if (this.mesh !== undefined) throw new Error('discovery is already enabled');
    const mesh = new Mesh(this.ctx, channel);
    this.mesh = mesh;
    this.outbound.mesh = mesh;
    this.outbound.fast.mesh = mesh;
    mesh.addPool(this.outbound.fast.pool);
  }

  /** A destination's latest state, from the main thread's discovery hub. */
  updateDestination(authority: string, state: DiscoveryState): void {
    this.mesh?.update(authority, state);
  }

  serve(socket: net.Socket, info: ConnectionInfo): void {
    if (this.ctx.draining) {
      socket.destroy();
      return;
    }
    detectConnection(this.ctx, socket, info, this.dispatch);
  }

  private onDetected(socket: net.Socket, conn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined): void {
    const { ctx } = this;
    const stacks = conn.direction === 'inbound' ? this.inbound : this.outbound;
    switch (decision.kind) {
      case 'http1':
        ctx.metrics.detected(conn.direction, 'http1', '');
        if (ctx.config.http1Engine === 'fast' && prefix === undefined) stacks.fast.serve(socket, conn);
        else stacks.http1.serve(socket, conn);
        return;
      case 'h2':
        ctx.metrics.detected(conn.direction, 'h2', '');
        stacks.h2.serve(socket, conn);
        return;
      case 'tls':
        // TLS not addressed to the mesh passes through untouched; we only note who it was for.
        ctx.metrics.detected(conn.direction, 'tls', 'passthrough');
        ctx.metrics.tlsPassthrough(conn.direction, decision.sni ?? '');
        forwardTcp(ctx, this.meshFor(conn.direction), socket, conn, prefix);
        return;
      case 'opaque':
        ctx.metrics.detected(conn.direction, 'opaque', decision.reason);
        forwardTcp(ctx, this.meshFor(conn.direction), socket, conn, prefix);
        return;
      default:
        decision satisfies never;
    }
  }

  private meshFor(direction: Direction): Mesh | undefined {
    return direction === 'outbound' ? this.mesh : undefined;
  }

  /**
   * Graceful shutdown of this thread's connections: HTTP/2 clients get GOAWAY, HTTP/1 connections close
   * when idle or after their current response, TCP tunnels run on. Resolves when every socket has
   * closed, or after `graceMs`, when whatever remains is closed by force.
   */
  async drain(graceMs: number): Promise<void> {
    const { ctx } = this;
    ctx.draining = true;
    this.inbound.drain();
    this.outbound.drain();
    this.mesh?.drain();
    // HTTP/1 connections that become idle later close on their own: responses now say Connection: close.
    const idle = ctx.tracker.whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), graceMs);
    });
    const outcome = await Promise.race([idle, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      ctx.log.warn('shutdown grace period over; closing remaining connections', { open: ctx.tracker.size });
      ctx.tracker.destroyAll();
    }
  }
}

// The proxy of one serving thread, built once at start: per direction an HTTP/1 stack (the fast engine,
// with the node:http stack behind it for what the engine hands over), an HTTP/2 stack, and opaque TCP;
// outbound, when a controller is configured, the mesh (discovery, balancing, retries) in front of them.
// A detected connection is dispatched here to the stack of its protocol.
import type net from 'node:net';
import type { DiscoveryState } from '../discovery/state.ts';
import type { DiscoveryChannel } from '../discovery/destination-cache.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import { detectConnection, detectDecrypted, type Decision } from './detect-connection.ts';
import { terminateMeshTls } from './inbound/tls-termination.ts';
import { FastHttp1Engine } from './http1/fast-engine.ts';
import { AgentConnections } from './http1/agent-connections.ts';
import { Http1Proxy } from './http1/node-stack.ts';
import type { H2Front } from './h2/front.ts';
import { Mesh } from './outbound/mesh.ts';
import type { ConnectionInfo } from './routing.ts';
import { forwardTcp } from './tcp/forward.ts';
import type { PortPolicy } from '../../api/inbound-policy.ts';
import type { InboundAuthorizer } from './inbound/authorizer.ts';
import { refuse } from './inbound/refuse.ts';

/**
 * One direction's stacks: the fast HTTP/1 engine at start; the lean HTTP/2 stack and the node:http
 * stack (for what the fast engine hands over) the first time each is needed.
 */
class DirectionStacks {
  readonly fast: FastHttp1Engine;
  private h2Front: H2Front | undefined;
  private h2Loading: Promise<H2Front> | undefined;
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;
  private http1Stack: Http1Proxy | undefined;
  /** Control-plane routing; outbound only. */
  mesh: Mesh | undefined;

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
    this.fast = new FastHttp1Engine(ctx, direction, () => this.http1);
  }

  /**
   * The HTTP/2 stack, loaded with the first HTTP/2 connection (the engine and HPACK cost ~8 MB on a
   * thread that never sees one); the connection waits, paused, for that one import.
   */
  serveH2(socket: net.Socket, conn: AcceptedConnection): void {
    if (this.h2Front !== undefined) return this.h2Front.serve(socket, conn);
    void this.loadH2().then((front) => {
      if (!socket.destroyed) front.serve(socket, conn);
    });
  }

  /**
   * Loads the HTTP/2 stack; with it the fast engine's HTTP/1 crosses the mesh hop as HTTP/2 (orig-proto).
   * Outbound it is loaded as soon as a controller is configured: its endpoints may be hinted `h2`.
   */
  loadH2(): Promise<H2Front> {
    this.h2Loading ??= import('./h2/front.ts').then(({ H2Front }) => {
      const front = new H2Front(this.ctx, this.direction, this.fast);
      front.mesh = this.mesh;
      if (this.mesh !== undefined) this.mesh.addPool(front.upstreams);
      this.h2Front = front;
      return front;
    });
    return this.h2Loading;
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

  drain(): void {
    this.h2Front?.drain();
    this.http1Stack?.drain();
  }
}

export class ProxyStacks {
  readonly ctx: WorkerContext;
  private readonly inbound: DirectionStacks;
  private readonly outbound: DirectionStacks;
  /** Control-plane routing of outbound traffic; undefined without a controller. */
  private mesh: Mesh | undefined;
  /** Inbound authorization; undefined when the policy lets everyone in (docs/authorization.md). */
  private authorizer: InboundAuthorizer | undefined;
  private readonly dispatch = (socket: net.Socket, conn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined): void =>
    this.onDetected(socket, conn, decision, prefix);
  /** The stream inside terminated mesh TLS: detected again, except on opaque ports (forwarded as it is). */
  private readonly decrypted = (socket: net.Socket, conn: AcceptedConnection): void => {
    if (conn.target !== undefined && this.ctx.config.opaquePorts.has(conn.target.port)) {
      this.onDetected(socket, conn, { kind: 'opaque', reason: 'opaque_port' }, undefined);
    } else {
      detectDecrypted(this.ctx, socket, conn, this.dispatch);
    }
  };

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
    this.outboundReady = this.outbound.loadH2().then(() => undefined);
  }

  /** Resolves once the outbound HTTP/2 stack is loaded (with discovery): until then HTTP/1 crosses the hop as HTTP/1. */
  outboundReady: Promise<void> = Promise.resolve();

  /** Turns on inbound authorization (loading it); called once, before the first connection. */
  async enableAuthorization(): Promise<void> {
    const { InboundAuthorizer } = await import('./inbound/authorizer.ts');
    this.authorizer = new InboundAuthorizer(this.ctx.config.inboundPolicy, this.ctx.metrics.registry);
  }

  /** A port's inbound policy from the controller (undefined: back to the default), for new connections. */
  updateInboundPolicy(port: number, policy: PortPolicy | undefined): void {
    this.authorizer?.update(port, policy);
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

  private onDetected(socket: net.Socket, detectedConn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined): void {
    const { ctx } = this;
    let conn = detectedConn;
    const stacks = conn.direction === 'inbound' ? this.inbound : this.outbound;
    // The accepted connection's transport labels are final now, unless it is mesh TLS to terminate
    // (inbound/tls-termination.ts relabels it with the client's identity); a decrypted stream is not tracked itself.
    if (!conn.meshTls && decision.kind !== 'tls') ctx.tracker.confirm(socket);
    // Authorized once the client is known: mesh TLS to terminate is judged on its decrypted stream.
    if (this.authorizer !== undefined && conn.direction === 'inbound' && !this.terminates(conn, decision, prefix)) {
      const ip = socket.remoteAddress ?? '';
      const verdict = this.authorizer.check(conn, ip);
      if (!verdict.allowed) {
        if (decision.kind === 'tls' && !conn.meshTls) ctx.tracker.confirm(socket);
        refuse(ctx, socket, conn, decision, verdict);
        return;
      }
      this.authorizer.admitted(socket, conn, ip);
      if (decision.kind === 'http1' || decision.kind === 'h2') conn = { ...conn, authz: verdict };
      else verdict.countTcp();
    }
    switch (decision.kind) {
      case 'http1':
        ctx.metrics.detected(conn.direction, 'http1', '');
        if (ctx.config.http1Engine === 'fast' && prefix === undefined) stacks.fast.serve(socket, conn);
        else stacks.http1.serve(socket, conn);
        return;
      case 'h2':
        ctx.metrics.detected(conn.direction, 'h2', '');
        stacks.serveH2(socket, conn);
        return;
      case 'tls': {
        // Mesh TLS addressed to this proxy's identity is terminated (inbound only, and never twice).
        const credentials = conn.direction === 'inbound' && !conn.meshTls && prefix === undefined ? ctx.meshCredentials() : undefined;
        if (credentials !== undefined && decision.sni === credentials.name) {
          terminateMeshTls(ctx, credentials, socket, conn, this.decrypted);
          return;
        }
        if (!conn.meshTls) ctx.tracker.confirm(socket);
        // TLS not addressed to the mesh passes through untouched; we only note who it was for.
        ctx.metrics.detected(conn.direction, 'tls', 'passthrough');
        ctx.metrics.tlsPassthrough(conn.direction, decision.sni ?? '');
        forwardTcp(ctx, this.meshFor(conn.direction), socket, conn, prefix);
        return;
      }
      case 'opaque':
        ctx.metrics.detected(conn.direction, 'opaque', decision.reason);
        forwardTcp(ctx, this.meshFor(conn.direction), socket, conn, prefix);
        return;
      default:
        decision satisfies never;
    }
  }

  /** Whether this is mesh TLS addressed to this proxy, which is terminated before anything else. */
  private terminates(conn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined): boolean {
    if (decision.kind !== 'tls' || conn.meshTls || prefix !== undefined) return false;
    return decision.sni !== undefined && decision.sni === this.ctx.meshCredentials()?.name;
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

// Raw keep-alive connections to upstream endpoints for the fast HTTP/1 engine, per `host:port`. A socket
// belongs to one exchange at a time (its owner) or lies idle in the pool; its listeners are installed
// once and dispatch to the current owner, so no closure is made per request.
import type net from 'node:net';
import { formatHostPort, type HostPort } from '../../../config/parse.ts';
import { ProxyError } from '../../../core/errors.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import { connectUpstream } from '../../transport/connect.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import type { WorkerContext } from '../context.ts';
import type { Head } from '../../http1/parse.ts';
import { upstreamTls } from '../mesh-tls.ts';

/** The exchange using an upstream connection. */
export interface UpstreamOwner {
  /** The request head as parsed, when the bytes written are that head (or it less hop-by-hop fields). */
  readonly requestHeadParsed: Head | undefined;
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamError(error: Error): void;
  onUpstreamDrain(): void;
}

/** The byte stream an exchange writes its request to. */
export interface UpstreamWire {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
}

/**
 * What one attempt of an exchange sends on: a pooled connection, or an HTTP/2 stream that carries the
 * HTTP/1 exchange across the mesh hop (orig-proto/upgrade.ts). Either way bytes in, bytes out.
 */
export interface AttemptUpstream {
  readonly socket: UpstreamWire;
  /** The peer shut its side: nothing more can be carried. */
  readonly ended: boolean;
  /** The exchange is over: kept for another one when `reusable`, else closed. */
  finish(reusable: boolean): void;
}

export class Upstream implements AttemptUpstream {
  readonly socket: net.Socket;
  readonly key: string;
  /** The identity the connection verified (mesh TLS); undefined for plain TCP. */
  readonly peer: PeerIdentity | undefined;
  owner: UpstreamOwner | undefined;
  idleSince = 0;
  /** The upstream shut its side: the connection cannot carry another exchange. */
  ended = false;

  private readonly pool: UpstreamPool;

  constructor(pool: UpstreamPool, socket: net.Socket, key: string, peer: PeerIdentity | undefined) {
    this.pool = pool;
    this.socket = socket;
    this.key = key;
    this.peer = peer;
    socket.on('data', (chunk: Buffer) => {
      if (this.owner === undefined) socket.destroy(); // nothing may arrive on an idle connection
      else this.owner.onUpstreamData(chunk);
    });
    socket.on('end', () => {
      this.ended = true;
      if (this.owner === undefined) socket.destroy();
      else this.owner.onUpstreamEnd();
    });
    socket.on('error', (error: Error) => this.owner?.onUpstreamError(error));
    socket.on('close', () => {
      pool.forget(this);
      this.owner?.onUpstreamError(new ProxyError('upstream_reset', 'connection closed'));
    });
    socket.on('drain', () => this.owner?.onUpstreamDrain());
  }

  finish(reusable: boolean): void {
    if (reusable) this.pool.release(this);
    else this.pool.discard(this);
  }
}

export class UpstreamPool {
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;
  private readonly idle = new Map<string, Upstream[]>();
  /** Endpoints that left their destination: their connections close instead of going back to the pool. */
  private readonly retired = new Set<string>();

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
  }

  get idleKeys(): number {
    return this.idle.size;
  }

  /**
   * An idle connection to `addr`, or a new one (connect timeout and transport metrics applied); in mesh
   * TLS verifying `peer` when given. An idle connection made for another identity (or in plaintext
   * before the proxy held one) is closed rather than reused.
   *
   * The connection idle the longest is taken (first in, first out): under steady traffic every pooled
   * connection keeps being used, so the pool keeps what the last burst needed while traffic lasts, and
   * shrinks to what the rate keeps busy within the idle timeout when it drops. Taking the most recent
   * one instead let the connections a burst opened idle out after the timeout, and the next burst (a
   * paused core's backlog, every few seconds on a busy machine) waited on new connections — on the mesh
   * hop through the peer proxy's accept and hand-off to its worker: a tenth of the requests of a burst.
   */
  acquire(addr: HostPort, key: string, owner: UpstreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): Upstream {
    const idle = this.idle.get(key);
    if (idle !== undefined) {
      while (idle.length > 0) {
        const u = idle.shift() as Upstream;
        if (u.peer?.identity !== peer?.identity) {
          u.socket.destroy();
          continue;
        }
        if (!u.socket.destroyed && u.socket.readyState === 'open') {
          if (idle.length === 0) this.idle.delete(key);
          u.owner = owner;
          return u;
        }
      }
      this.idle.delete(key);
    }
    const socket = connectUpstream(addr, this.ctx.connectTimeoutMs(this.direction), false, upstreamTls(this.ctx, peer));
    this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', addr, tlsLabels));
    const u = new Upstream(this, socket, key, peer);
    u.owner = owner;
    return u;
  }

  /** The exchange is over and the connection can carry another one. */
  release(u: Upstream): void {
    u.owner = undefined;
    if (this.ctx.draining || u.ended || this.retired.has(u.key)) {
      u.socket.destroy();
      return;
    }
    u.idleSince = performance.now();
    u.socket.resume();
    let idle = this.idle.get(u.key);
    if (idle === undefined) this.idle.set(u.key, (idle = []));
    idle.push(u);
  }

  /** The exchange is over and the connection is not reusable (or was abandoned). */
  discard(u: Upstream): void {
    u.owner = undefined;
    u.socket.destroy();
  }

  forget(u: Upstream): void {
    const idle = this.idle.get(u.key);
    if (idle === undefined) return;
    const i = idle.indexOf(u);
    if (i >= 0) idle.splice(i, 1);
    if (idle.length === 0) this.idle.delete(u.key);
  }

  /** An endpoint left its destination: idle connections close now, busy ones when their exchange ends. */
  retire(addr: HostPort): void {
    const key = formatHostPort(addr);
    this.retired.add(key);
    for (const u of this.idle.get(key) ?? []) u.socket.destroy();
  }

  /** The endpoint is back: its new connections are pooled again. */
  reinstate(addr: HostPort): void {
    if (this.retired.size > 0) this.retired.delete(formatHostPort(addr));
  }

  /** Closes connections idle for `idleMs` (0 keeps them), or all idle ones while draining. */
  sweep(now: number, idleMs: number): void {
    for (const idle of this.idle.values()) {
      for (const u of [...idle]) {
        if (this.ctx.draining || (idleMs > 0 && now - u.idleSince >= idleMs)) u.socket.destroy();
      }
    }
  }
}

// HTTP/2 connections to upstream endpoints, one multiplexed connection per `host:port` on the lean engine
// (client role). A stream that cannot be opened because the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS is
// reached waits in a bounded queue; past it the request is shed. After GOAWAY (or an endpoint leaving its
// destination) new streams go to a fresh connection while the old one finishes what it carries.
import type net from 'node:net';
import { formatHostPort, type HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import { H2Connection } from '../../http2/connection.ts';
import type { H2Handler } from '../../http2/handler.ts';
import type { H2Stream } from '../../http2/stream.ts';
import { connectUpstream } from '../../transport/connect.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import type { WorkerContext } from '../context.ts';
import { upstreamTls } from '../mesh-tls.ts';

const REFUSED_STREAM = 7;

/** Streams waiting for a slot on one upstream connection before new requests are shed (503). */
export const MAX_WAITING_STREAMS = 256;

/** What an upstream connection reports to the exchange a stream belongs to (stream.ctx). */
export interface UpstreamStreamOwner {
  /** A slot is free on `conn`: open the stream now. */
  open(conn: UpstreamConn): void;
  /** No stream could be had: the connection failed before one was free (its error, if known). */
  noStream(error: Error | undefined): void;
  responseHeaders(conn: UpstreamConn, stream: H2Stream, headers: string[], status: number, endStream: boolean): void;
  responseData(conn: UpstreamConn, stream: H2Stream, data: Buffer, endStream: boolean): void;
  responseTrailers(conn: UpstreamConn, stream: H2Stream, trailers: string[]): void;
  upstreamReset(conn: UpstreamConn, stream: H2Stream, code: number): void;
  /** Request bytes left towards the upstream: the client may send that much more. */
  upstreamWindow(stream: H2Stream, flushed: number): void;
}

export class UpstreamConn implements H2Handler {
  readonly key: string;
  readonly conn: H2Connection;
  /** The identity the connection verified (mesh TLS); undefined for plain TCP. */
  readonly peer: PeerIdentity | undefined;
  private readonly pool: H2Upstreams;
  /** The socket's error, if it failed (connect refused, timed out...): what failed streams are told. */
  error: Error | undefined;
  /** No new streams: GOAWAY received, retired, or closed. */
  retired = false;
  idleSince = performance.now();
  /**
   * A request came since the last sweep. Short requests can start and finish between two sweeps, so
   * the stream count a sweep sees says nothing about them: without this a steadily used connection
   * whose streams never overlap a sweep was retired as idle (and, on the mesh, handshook TLS anew).
   */
  usedSinceSweep = false;
  private readonly waiting: UpstreamStreamOwner[] = [];

  constructor(pool: H2Upstreams, key: string, socket: net.Socket, peer: PeerIdentity | undefined) {
    this.pool = pool;
    this.key = key;
    this.peer = peer;
    // Before the engine's own listener: the cause is known when the streams are reset.
    socket.on('error', (error) => {
      this.error ??= error;
    });
    this.conn = new H2Connection(socket, 'client', this);
  }

  /** Opens a stream for `owner` now, or queues it; false when the queue is full (shed the request). */
  request(owner: UpstreamStreamOwner): boolean {
    this.usedSinceSweep = true;
    if (this.waiting.length === 0 && this.conn.canOpenStream()) {
      owner.open(this);
      return true;
    }
    if (this.waiting.length >= MAX_WAITING_STREAMS) return false;
    this.waiting.push(owner);
    return true;
  }

  /** A queued owner gave up (its client left, or it timed out). */
  cancel(owner: UpstreamStreamOwner): void {
    const i = this.waiting.indexOf(owner);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  onStreamCapacity(): void {
    while (this.waiting.length > 0 && this.conn.canOpenStream()) (this.waiting.shift() as UpstreamStreamOwner).open(this);
  }

  onResponseHeaders(stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    (stream.ctx as UpstreamStreamOwner).responseHeaders(this, stream, headers, status, endStream);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    (stream.ctx as UpstreamStreamOwner).responseData(this, stream, data, endStream);
  }

  onTrailers(stream: H2Stream, trailers: string[]): void {
    (stream.ctx as UpstreamStreamOwner).responseTrailers(this, stream, trailers);
  }

  onReset(stream: H2Stream, code: number): void {
    // Refused unprocessed (GOAWAY, or the endpoint shedding): the owner resends on a fresh connection.
    if (code === REFUSED_STREAM) this.retire();
    (stream.ctx as UpstreamStreamOwner).upstreamReset(this, stream, code);
  }

  onStreamWindow(stream: H2Stream, flushed: number): void {
    (stream.ctx as UpstreamStreamOwner).upstreamWindow(stream, flushed);
  }

  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.reset(stream);
    (stream.ctx as UpstreamStreamOwner).upstreamReset(this, stream, 2 /* INTERNAL_ERROR: not a refusal */);
  }

  onGoaway(): void {
    this.retire();
  }

  onClose(error: Error | null): void {
    this.error ??= error ?? undefined;
    this.retire();
    // Streams still queued never reached this connection: they may go to a new one.
    const waiting = this.waiting.splice(0);
    for (const owner of waiting) owner.noStream(this.error);
  }

  onRequestHeaders(): void {}
  onPingAck(): void {}

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.pool.forget(this);
  }
}

export class H2Upstreams {
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;
  private readonly conns = new Map<string, UpstreamConn>();
  /** Retired connections still carrying streams: closed once empty. */
  private readonly finishing = new Set<UpstreamConn>();

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
  }

  /**
   * Asks for a stream to `addr` for `owner`, in mesh TLS verifying `peer` when given: the connection
   * that opens (or queues) it, undefined when the endpoint's queue is full. A connection made for another identity (or in plaintext before the proxy
   * held one) is retired: it finishes its streams while new ones go to a fresh connection.
   */
  request(addr: HostPort, key: string, owner: UpstreamStreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): UpstreamConn | undefined {
    let up = this.conns.get(key);
    if (up !== undefined && up.peer?.identity !== peer?.identity) up.retire();
    if (up === undefined || up.retired) {
      const socket = connectUpstream(addr, this.ctx.connectTimeoutMs(this.direction), false, upstreamTls(this.ctx, peer));
      this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', addr, tlsLabels));
      up = new UpstreamConn(this, key, socket, peer);
      this.conns.set(key, up);
    }
    return up.request(owner) ? up : undefined;
  }

  forget(up: UpstreamConn): void {
    if (this.conns.get(up.key) === up) this.conns.delete(up.key);
    if (!up.conn.closed) this.finishing.add(up);
  }

  /**
   * An endpoint left its destination: new streams go elsewhere; its connection gets GOAWAY now (the
   * endpoint learns that no new stream will come), finishes the streams it carries and closes.
   */
  retire(addr: HostPort): void {
    const up = this.conns.get(formatHostPort(addr));
    if (up === undefined) return;
    up.retire();
    up.conn.goaway();
  }

  reinstate(): void {}

  /** Closes idle connections (and finished retired ones); all idle ones while draining. */
  sweep(now: number, idleMs: number): void {
    for (const up of this.conns.values()) {
      if (up.conn.streamCount > 0 || up.usedSinceSweep) {
        up.idleSince = now;
        up.usedSinceSweep = false;
      } else if (this.ctx.draining || (idleMs > 0 && now - up.idleSince >= idleMs)) {
        up.retire();
      }
    }
    for (const up of this.finishing) {
      if (up.conn.closed) this.finishing.delete(up);
      else if (up.conn.streamCount === 0) {
        up.conn.close();
        this.finishing.delete(up);
      }
    }
  }

  get size(): number {
    return this.conns.size + this.finishing.size;
  }
}

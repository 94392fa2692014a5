// HTTP/2 connections to upstream endpoints on the lean engine (client role): one multiplexed connection
// per `host:port`, and another only while every one the endpoint has is at its
// SETTINGS_MAX_CONCURRENT_STREAMS and the queue asks for it (QUEUE_FOR_ANOTHER streams waiting, or the
// oldest waiting WAIT_FOR_ANOTHER_MS) — up to MAX_CONNECTIONS_PER_ENDPOINT, as HAProxy and Envoy open
// more. One connection capped at the peer's limit (a Sluice peer advertises 100) shed a generator's burst
// that the client side had let in (4 connections × 100 streams), and would hold back an application's
// 101st long-lived stream; a short queue that keeps moving opens none. Past the cap a stream waits in the
// endpoint's bounded queue, served by whichever connection frees a slot first; past the queue the request
// is shed. After GOAWAY (or an endpoint leaving its destination) new streams go to a fresh connection
// while the old one finishes what it carries.
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

/** Streams waiting for a slot on an endpoint's connections before new requests are shed (503). */
export const MAX_WAITING_STREAMS = 256;
/** Connections to one endpoint at once; more open only while every one is at the endpoint's stream limit. */
export const MAX_CONNECTIONS_PER_ENDPOINT = 8;
/**
 * When another connection opens: at once when this many streams wait (a burst), or once the oldest has
 * waited WAIT_FOR_ANOTHER_MS (long-lived streams holding every slot). A short queue that keeps moving, as
 * under saturation, opens none: there a second mTLS connection cost proxy A ~11 MB after gRPC
 * saturation (107 → 118 MB) for no request it would not have served.
 */
export const QUEUE_FOR_ANOTHER = 64;
export const WAIT_FOR_ANOTHER_MS = 100;

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
  /** The endpoint's connections and queue, shared with its other connections. */
  readonly endpoint: EndpointConns;

  constructor(pool: H2Upstreams, endpoint: EndpointConns, key: string, socket: net.Socket, peer: PeerIdentity | undefined) {
    this.pool = pool;
    this.endpoint = endpoint;
    this.key = key;
    this.peer = peer;
    // Before the engine's own listener: the cause is known when the streams are reset.
    socket.on('error', (error) => {
      this.error ??= error;
    });
    this.conn = new H2Connection(socket, 'client', this);
  }

  /** A queued owner gave up (its client left, or it timed out). */
  cancel(owner: UpstreamStreamOwner): void {
    this.endpoint.remove(owner);
  }

  /** Opens streams for the endpoint's queue while this connection has slots. */
  onStreamCapacity(): void {
    const endpoint = this.endpoint;
    while (endpoint.waiting.length > 0 && this.conn.canOpenStream()) {
      this.usedSinceSweep = true;
      endpoint.next().open(this);
    }
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
    // With no connection left to serve them, the queued streams never reach the endpoint this way:
    // their exchanges retry or fail with this connection's error.
    if (this.endpoint.conns.length > 0) return;
    for (const owner of this.endpoint.takeAll()) owner.noStream(this.error);
  }

  onRequestHeaders(): void {}
  onPingAck(): void {}

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.pool.forget(this);
  }
}

/** One endpoint's live connections (those new streams may use) and the streams waiting for a slot. */
export class EndpointConns {
  readonly conns: UpstreamConn[] = [];
  readonly waiting: UpstreamStreamOwner[] = [];
  /** When each waiting stream was queued (performance.now()), in queue order. */
  private readonly queuedAt: number[] = [];
  // How the last queued request reached the endpoint: what a further connection is opened with.
  addr: HostPort = { host: '', port: 0 };
  peer: PeerIdentity | undefined;
  tlsLabels = '';

  enqueue(owner: UpstreamStreamOwner, now: number): void {
    this.waiting.push(owner);
    this.queuedAt.push(now);
  }

  next(): UpstreamStreamOwner {
    this.queuedAt.shift();
    return this.waiting.shift() as UpstreamStreamOwner;
  }

  remove(owner: UpstreamStreamOwner): void {
    const i = this.waiting.indexOf(owner);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    this.queuedAt.splice(i, 1);
  }

  takeAll(): UpstreamStreamOwner[] {
    this.queuedAt.length = 0;
    return this.waiting.splice(0);
  }

  /** Whether the queue calls for another connection now (see QUEUE_FOR_ANOTHER). */
  wantsAnother(now: number): boolean {
    if (this.conns.length >= MAX_CONNECTIONS_PER_ENDPOINT || this.waiting.length === 0) return false;
    return this.conns.length === 0 || this.waiting.length >= QUEUE_FOR_ANOTHER || now - (this.queuedAt[0] as number) >= WAIT_FOR_ANOTHER_MS;
  }
}

export class H2Upstreams {
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;
  private readonly endpoints = new Map<string, EndpointConns>();
  /** Retired connections still carrying streams: closed once empty. */
  private readonly finishing = new Set<UpstreamConn>();

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
  }

  /**
   * Asks for a stream to `addr` for `owner`, in mesh TLS verifying `peer` when given: a connection of
   * the endpoint, on which the owner's stream opened or against which it waits; undefined when the
   * endpoint's queue is full. A connection made for another identity (or in plaintext before the proxy
   * held one) is retired: it finishes its streams while new ones go to a fresh connection.
   */
  request(addr: HostPort, key: string, owner: UpstreamStreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): UpstreamConn | undefined {
    let endpoint = this.endpoints.get(key);
    if (endpoint === undefined) this.endpoints.set(key, (endpoint = new EndpointConns()));
    const { conns, waiting } = endpoint;
    for (let i = conns.length - 1; i >= 0; i--) {
      const up = conns[i] as UpstreamConn;
      if (up.peer?.identity !== peer?.identity) up.retire();
    }
    // First come, first served: a free slot goes to the queue before a newcomer.
    if (waiting.length === 0) {
      for (const up of conns) {
        if (up.conn.canOpenStream()) {
          up.usedSinceSweep = true;
          owner.open(up);
          return up;
        }
      }
    }
    if (waiting.length >= MAX_WAITING_STREAMS) return undefined;
    const now = performance.now();
    endpoint.enqueue(owner, now);
    endpoint.addr = addr;
    endpoint.peer = peer;
    endpoint.tlsLabels = tlsLabels;
    // Every connection is at the endpoint's limit (or there is none yet): one more when the queue asks
    // for it, up to the cap; the sweep asks again as the queue ages.
    if (endpoint.wantsAnother(now)) this.connect(key, endpoint).onStreamCapacity();
    return conns[conns.length - 1];
  }

  private connect(key: string, endpoint: EndpointConns): UpstreamConn {
    const { addr, peer, tlsLabels } = endpoint;
    const socket = connectUpstream(addr, this.ctx.connectTimeoutMs(this.direction), false, upstreamTls(this.ctx, peer));
    this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', addr, tlsLabels));
    const up = new UpstreamConn(this, endpoint, key, socket, peer);
    // Until its own SETTINGS arrive, a further connection opens no more streams than its siblings may:
    // the endpoint's limit, not the engine's guess of 100 (streams past it would be refused).
    for (const sibling of endpoint.conns) up.conn.peerMaxConcurrentStreams = Math.min(up.conn.peerMaxConcurrentStreams, sibling.conn.peerMaxConcurrentStreams);
    endpoint.conns.push(up);
    return up;
  }

  forget(up: UpstreamConn): void {
    const endpoint = up.endpoint;
    const i = endpoint.conns.indexOf(up);
    if (i >= 0) endpoint.conns.splice(i, 1);
    if (!up.conn.closed) this.finishing.add(up);
  }

  /**
   * An endpoint left its destination: new streams go elsewhere; its connections get GOAWAY now (the
   * endpoint learns that no new stream will come), finish the streams they carry and close.
   */
  retire(addr: HostPort): void {
    const endpoint = this.endpoints.get(formatHostPort(addr));
    if (endpoint === undefined) return;
    for (const up of [...endpoint.conns]) {
      up.retire();
      up.conn.goaway();
    }
  }

  reinstate(): void {}

  /** Closes idle connections (and finished retired ones); all idle ones while draining. */
  sweep(now: number, idleMs: number): void {
    for (const [key, endpoint] of this.endpoints) {
      // Forgotten here only, never while a request may be holding the object.
      if (endpoint.conns.length === 0 && endpoint.waiting.length === 0) this.endpoints.delete(key);
      else if (endpoint.wantsAnother(now)) this.connect(key, endpoint).onStreamCapacity();
      // Backwards: retiring takes a connection out of the list.
      for (let i = endpoint.conns.length - 1; i >= 0; i--) {
        const up = endpoint.conns[i] as UpstreamConn;
        if (up.conn.streamCount > 0 || up.usedSinceSweep) {
          up.idleSince = now;
          up.usedSinceSweep = false;
        } else if (this.ctx.draining || (idleMs > 0 && now - up.idleSince >= idleMs)) {
          up.retire();
        }
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
    let live = 0;
    for (const endpoint of this.endpoints.values()) live += endpoint.conns.length;
    return live + this.finishing.size;
  }
}

// The HTTP/2 (h2c, gRPC) stack of one direction on the lean engine: each detected client connection is
// an H2Connection in the server role, each of its requests an H2Exchange, each upstream endpoint one
// multiplexed connection (upstreams.ts). One timer per direction checks every deadline and closes idle
// upstream connections; node:http2 is never loaded.
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import { H2Connection } from '../../http2/connection.ts';
import { ErrorCode } from '../../http2/frames.ts';
import type { H2Handler } from '../../http2/handler.ts';
import type { H2Stream } from '../../http2/stream.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import type { Http1Mesh } from '../http1/exchange-env.ts';
import { Downgrades, type Http1Engine } from '../orig-proto/downgrade.ts';
import { origProtoOf, parseOrigProto } from '../orig-proto/fields.ts';
import { Upgrades, type StreamSource } from '../orig-proto/upgrade.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import { resolveTarget } from '../resolve-target.ts';
import type { ClientStreamHandler, H2Env, Timed } from './env.ts';
import { H2Exchange } from './exchange.ts';
import { h2ErrorAnswer } from './responses.ts';
import { H2Upstreams, type UpstreamConn, type UpstreamStreamOwner } from './upstreams.ts';

/** The client-facing side of one connection: a stream's ctx is its exchange. */
class Downstream implements H2Handler {
  readonly conn: H2Connection;
  private readonly front: H2Front;
  private readonly accepted: AcceptedConnection;

  constructor(front: H2Front, socket: net.Socket, accepted: AcceptedConnection) {
    this.front = front;
    this.accepted = accepted;
    this.conn = new H2Connection(socket, 'server', this);
  }

  onRequestHeaders(stream: H2Stream, headers: string[], endStream: boolean): void {
    this.accepted.authz?.countHttp();
    // Inbound, an HTTP/1 request the peer proxy carried as HTTP/2 goes to the application as HTTP/1.
    const downgrades = this.front.downgrades;
    if (downgrades !== undefined) {
      const value = origProtoOf(headers);
      const proto = value === undefined ? undefined : parseOrigProto(value);
      if (proto !== undefined) return downgrades.serve(this.conn, stream, this.accepted, headers, endStream, proto);
    }
    const exchange = new H2Exchange(this.front, this.conn, stream, this.accepted, headers, endStream);
    stream.ctx = exchange;
    exchange.begin();
  }

  onHeadersTooLarge(stream: H2Stream): void {
    this.front.ctx.metrics.httpError(this.front.direction, 'headers_too_large');
    const answer = h2ErrorAnswer('headers_too_large', false);
    this.conn.sendHeaders(stream, answer.headers, false);
    this.conn.sendData(stream, answer.body as Buffer, true);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const exchange = stream.ctx as ClientStreamHandler | undefined;
    if (exchange === undefined) this.conn.consumed(stream, data.length);
    else exchange.requestData(data, endStream);
  }

  onTrailers(stream: H2Stream, trailers: string[]): void {
    (stream.ctx as ClientStreamHandler | undefined)?.requestTrailers(trailers);
  }

  onReset(stream: H2Stream, code: number): void {
    (stream.ctx as ClientStreamHandler | undefined)?.clientReset(code);
  }

  onStreamWindow(stream: H2Stream, flushed: number): void {
    (stream.ctx as ClientStreamHandler | undefined)?.clientWindow(flushed);
  }

  onClose(): void {
    this.front.forget(this);
  }

  onResponseHeaders(): void {}
  onGoaway(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
}

export class H2Front implements H2Env, StreamSource {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  readonly upstreams: H2Upstreams;
  /** Set once at start when a controller is configured (outbound only). */
  mesh: Http1Mesh | undefined;
  /** Inbound: upgraded HTTP/1 requests (`l5d-orig-proto`) to the application through its HTTP/1 engine. */
  readonly downgrades: Downgrades | undefined;
  private readonly downstreams = new Set<Downstream>();
  private readonly timed = new Set<Timed>();
  private sweeper: NodeJS.Timeout | undefined;

  /**
   * With the direction's HTTP/1 engine the mesh hop's orig-proto scheme is on: outbound, its requests to
   * endpoints hinted `h2` take streams of this front's upstream connections; inbound, upgraded requests
   * are served through it.
   */
  constructor(ctx: WorkerContext, direction: Direction, http1?: Http1Engine) {
    this.ctx = ctx;
    this.direction = direction;
    this.upstreams = new H2Upstreams(ctx, direction);
    this.downgrades = http1 !== undefined && direction === 'inbound' ? new Downgrades(http1, this) : undefined;
    if (http1 !== undefined && direction === 'outbound') http1.upgrades = new Upgrades(this);
  }

  /** A stream to `addr` for an upgraded HTTP/1 request (orig-proto/upgrade.ts). */
  requestStream(addr: HostPort, key: string, owner: UpstreamStreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): UpstreamConn | undefined {
    this.startSweeper();
    return this.upstreams.request(addr, key, owner, peer, tlsLabels);
  }

  serve(socket: net.Socket, conn: AcceptedConnection): void {
    const down = new Downstream(this, socket, conn);
    this.downstreams.add(down);
    if (this.ctx.draining) down.conn.goaway(ErrorCode.NO_ERROR, true);
    this.startSweeper();
    // Detection left the socket paused with its first bytes put back.
    socket.resume();
  }

  resolve(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void {
    resolveTarget(this.ctx, conn, target, done);
  }

  track(exchange: Timed): void {
    this.timed.add(exchange);
    this.startSweeper();
  }

  untrack(exchange: Timed): void {
    this.timed.delete(exchange);
  }

  forget(down: Downstream): void {
    this.downstreams.delete(down);
  }

  /** Graceful GOAWAY to every client: streams in flight finish, the connections close when empty. */
  drain(): void {
    for (const down of this.downstreams) down.conn.goaway(ErrorCode.NO_ERROR, true);
    // The sweep closes what is idle and, from now on, every connection once its streams are done.
    this.startSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => this.sweep(), 10);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const exchange of this.timed) exchange.check(now);
    this.upstreams.sweep(now, this.ctx.config.httpPoolIdleTimeoutMs);
    // A draining client that never answers our PING: its connection closes once no stream is left.
    if (this.ctx.draining) for (const down of this.downstreams) if (down.conn.streamCount === 0) down.conn.close();
    if (this.downstreams.size === 0 && this.upstreams.size === 0 && this.timed.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

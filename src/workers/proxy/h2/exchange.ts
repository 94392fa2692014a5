// One HTTP/2 (h2c or gRPC) request on the lean engine, from routing to the end of its response: the one
// endpoint stack of HTTP/2 for every destination, as exchange.ts is for HTTP/1. A request to a service
// the Destination API knows is balanced over its endpoints with its route's timeout, retries and route
// metrics; any other goes to its one address (DNS, or the original destination) with no retries. Both
// resend, once, a stream the upstream refused unprocessed (REFUSED_STREAM, or above a GOAWAY's last
// stream id) while its body (≤ 64 KiB) is at hand. Frames are forwarded as they come; a side's window
// is refunded only once its bytes left through the other side, so a stream holds at most one window.
import type { HostPort } from '../../../config/parse.ts';
import { ERROR_RESPONSES, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import type { HttpStats } from '../../../telemetry/proxy-metrics.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import type { Destination } from '../../discovery/destination-cache.ts';
import type { H2Connection } from '../../http2/connection.ts';
import { ErrorCode } from '../../http2/frames.ts';
import { parseGrpcTimeout } from '../../http2/grpc-timeout.ts';
import type { H2Stream } from '../../http2/stream.ts';
import { DEFAULT_ROUTE, pathOf, type Route } from '../../profiles/routes.ts';
import type { RouteStats } from '../../profiles/route-metrics.ts';
import { ReplayBuffer } from '../../retry/retry.ts';
import { AttemptTarget, chooseTarget, enterDestination, leaveDestination, shouldRetry } from '../route-attempts.ts';
import type { TapStream } from '../../tap/registry.ts';
import type { AcceptedConnection } from '../context.ts';
import type { Http1Mesh } from '../http1/exchange-env.ts';
import { httpTarget } from '../routing.ts';
import { directTlsLabels, peerOf, tapTls, withClientId } from '../mesh-tls.ts';
import type { H2Env } from './env.ts';
import { grpcStatusIn, headerFields, neverIndexedWithoutClientId, requestFacts } from './fields.ts';
import { h2ErrorAnswer } from './responses.ts';
import type { UpstreamConn, UpstreamStreamOwner } from './upstreams.ts';

const X_RESOLVING = 0;
const X_WAITING = 1;
const X_RESPONDING = 2;
const X_DONE = 3;

export class H2Exchange implements UpstreamStreamOwner {
  private readonly env: H2Env;
  private readonly down: H2Connection;
  private readonly dstream: H2Stream;
  private readonly conn: AcceptedConnection;
  private readonly headers: string[];
  private readonly neverIndexed: readonly number[];
  private readonly grpc: boolean;
  private readonly authority: string;
  private readonly method: string;
  private readonly path: string;
  private readonly scheme: string;
  private readonly grpcTimeoutMs: number | undefined;
  readonly startedAt = performance.now();
  deadline = 0;
  private phase = X_RESOLVING;
  private target: HostPort | undefined;
  private dest: Destination | undefined;
  private direct: HostPort | undefined;
  private route: Route = DEFAULT_ROUTE;
  private routeStats: RouteStats | undefined;
  /** Request body arrived before a stream was open to take it (not yet refunded). */
  private pending: Buffer[] = [];
  private requestEnded: boolean;
  private heldTrailers: string[] | undefined;
  /** The request body forwarded so far, while the stream may still have to be sent again. */
  private replay: ReplayBuffer | undefined = new ReplayBuffer();
  /** Replayed bytes queued on a new attempt: already refunded to the client once. */
  private noRefund = 0;
  private resent = false;
  // The attempt in flight.
  private up: UpstreamConn | undefined;
  private ustream: H2Stream | undefined;
  private endpoint: Endpoint | undefined;
  private readonly attemptTarget = new AttemptTarget();
  private stats: HttpStats | undefined;
  private attemptStart = 0;
  private status = 0;
  private latencyMs = 0;
  private tap: TapStream | undefined;

  constructor(env: H2Env, down: H2Connection, dstream: H2Stream, conn: AcceptedConnection, headers: string[], endStream: boolean) {
    this.env = env;
    this.down = down;
    this.dstream = dstream;
    this.conn = conn;
    this.requestEnded = endStream;
    const facts = requestFacts(headers);
    // Inbound: the caller's verified identity replaces whatever the client claimed (mesh-tls.ts).
    const identify = conn.direction === 'inbound' && (conn.clientId !== undefined || facts.clientIdSent);
    this.headers = identify ? withClientId(headers, conn.clientId) : headers;
    this.neverIndexed = identify && facts.clientIdSent ? neverIndexedWithoutClientId(headers, down.neverIndexed) : down.neverIndexed;
    this.grpc = facts.grpc;
    this.authority = facts.authority;
    this.method = facts.method;
    this.path = facts.path;
    this.scheme = facts.scheme;
    this.grpcTimeoutMs = facts.grpc ? parseGrpcTimeout(facts.grpcTimeout) : undefined;
  }

  begin(): void {
    const { ctx } = this.env;
    const parsed = this.authority === '' ? undefined : ctx.authorities.get(this.authority, 80);
    const target = httpTarget(this.conn, parsed, ctx.config);
    this.target = target;
    if (target === undefined) return this.fail('no_target');
    const mesh = this.env.mesh;
    const key = mesh === undefined || this.conn.direction !== 'outbound' ? undefined : mesh.keyFor(target);
    if (key === undefined) this.env.resolve(this.conn, target, (addr) => this.resolved(addr));
    else mesh?.lookup(key, (dest) => this.destination(dest));
  }

  private destination(dest: Destination | undefined): void {
    if (this.phase !== X_RESOLVING) return; // the client left meanwhile
    if (dest === undefined) return this.env.resolve(this.conn, this.target as HostPort, (addr) => this.resolved(addr));
    this.dest = dest;
    const entry = enterDestination(this.env.mesh as Http1Mesh, dest, this.method, this.path);
    this.route = entry.route;
    this.routeStats = entry.routeStats;
    this.start();
  }

  private resolved(addr: HostPort | undefined): void {
    if (this.phase !== X_RESOLVING) return;
    if (addr === undefined) return this.fail('dns_not_found');
    this.direct = addr;
    this.start();
  }

  /** The route's timeout (else the proxy's response timeout, for non-gRPC), and a gRPC call's own deadline. */
  private start(): void {
    const routeMs = this.route.timeoutMs ?? (this.grpc ? undefined : this.env.ctx.config.httpResponseTimeoutMs || undefined);
    const own = this.grpcTimeoutMs;
    const ms = own === undefined ? routeMs : routeMs === undefined ? own : Math.min(own, routeMs);
    this.deadline = ms !== undefined && ms > 0 ? this.startedAt + ms : 0;
    if (this.deadline > 0) this.env.track(this);
    this.attempt();
  }

  private attempt(): void {
    const { ctx } = this.env;
    const target = this.attemptTarget;
    const failed = chooseTarget(target, ctx, this.conn, this.authority, this.dest, this.direct, this.routeStats);
    if (failed !== undefined) return this.fail(failed);
    const { addr, key, tlsLabels } = target;
    this.endpoint = target.endpoint;
    this.stats = target.stats;
    if (ctx.taps.active && this.tap === undefined) this.startTap(addr);
    this.attemptStart = performance.now();
    this.phase = X_WAITING;
    const up = this.env.upstreams.request(addr, key, this, peerOf(ctx, this.endpoint), tlsLabels);
    if (up === undefined) this.attemptFailed('overloaded');
    // Queued: a cancel must reach this attempt's endpoint, not the one an earlier attempt used.
    else if (this.ustream === undefined) this.up = up;
  }

  /** A stream slot is ours: send the head, then whatever of the body is at hand. */
  open(up: UpstreamConn): void {
    if (this.phase !== X_WAITING) return;
    this.up = up;
    const bodyless = this.requestEnded && this.heldTrailers === undefined && this.pending.length === 0 && (this.replay?.bytes ?? 0) === 0;
    const stream = up.conn.openStream(this.headers, bodyless, this, this.neverIndexed);
    this.ustream = stream;
    if (bodyless) return;
    const replay = this.replay;
    if (replay !== undefined && replay.bytes > 0) {
      this.noRefund = replay.bytes;
      for (const chunk of replay.chunks) up.conn.sendData(stream, chunk, false);
    }
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i++) {
      const last = i === pending.length - 1 && this.requestEnded && this.heldTrailers === undefined;
      this.forwardRequestData(pending[i] as Buffer, last);
    }
    if (pending.length === 0 && this.requestEnded && this.heldTrailers === undefined) up.conn.sendData(stream, EMPTY, true);
    if (this.heldTrailers !== undefined) up.conn.sendTrailers(stream, this.heldTrailers);
  }

  noStream(error: Error | undefined): void {
    if (this.phase !== X_WAITING) return;
    this.attemptFailed(error === undefined ? 'upstream_reset' : classifyUpstreamError(error));
  }

  // ── Client side ─────────────────────────────────────────────────────────────────────────────────

  requestData(data: Buffer, endStream: boolean): void {
    if (endStream) this.requestEnded = true;
    if (this.phase === X_DONE) {
      this.down.consumed(this.dstream, data.length); // answered already: the rest has nowhere to go
      return;
    }
    if (this.ustream === undefined) {
      if (data.length > 0) this.pending.push(data);
      return;
    }
    this.forwardRequestData(data, endStream);
  }

  private forwardRequestData(data: Buffer, endStream: boolean): void {
    if (this.phase === X_WAITING) this.replay?.add(data);
    const sent = (this.up as UpstreamConn).conn.sendData(this.ustream as H2Stream, data, endStream);
    if (sent > 0) this.refundClient(sent);
  }

  requestTrailers(trailers: string[]): void {
    this.requestEnded = true;
    if (this.phase === X_DONE) return;
    if (this.ustream === undefined) this.heldTrailers = trailers;
    else (this.up as UpstreamConn).conn.sendTrailers(this.ustream, trailers, this.down.neverIndexed);
  }

  upstreamWindow(_stream: H2Stream, flushed: number): void {
    this.refundClient(flushed);
  }

  private refundClient(n: number): void {
    const skip = Math.min(this.noRefund, n);
    this.noRefund -= skip;
    if (n > skip) this.down.consumed(this.dstream, n - skip);
  }

  /** Response bytes left towards the client: the upstream may send that much more. */
  clientWindow(flushed: number): void {
    if (this.ustream !== undefined && this.up !== undefined) this.up.conn.consumed(this.ustream, flushed);
  }

  /** The client reset its stream (or its connection went): the upstream stream goes with the same code. */
  clientReset(code: number): void {
    if (this.phase === X_DONE) return;
    this.dropUpstream(code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code);
    this.settle(undefined);
    this.end({ reset_error_code: code });
  }

  // ── Upstream side ───────────────────────────────────────────────────────────────────────────────

  responseHeaders(up: UpstreamConn, stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    if (stream !== this.ustream) return;
    if (status < 200) {
      // 100 Continue, 103 Early Hints: to the client ahead of the final response (101 has no place in HTTP/2).
      if (this.phase === X_WAITING && status !== 101) this.down.sendHeaders(this.dstream, headers, false, up.conn.neverIndexed);
      return;
    }
    const grpcStatus = endStream ? grpcStatusIn(headers) : -1;
    const failed = this.route.isFailure(status, grpcStatus);
    const rtt = this.settle(failed);
    if (this.retryAfter(status, grpcStatus, failed, rtt, '')) return;
    this.phase = X_RESPONDING;
    this.status = status;
    this.latencyMs = this.dest === undefined ? performance.now() - this.startedAt : rtt;
    this.replay = undefined; // the upstream has taken the stream: it will not be sent again
    this.tap?.responseInit(status, () => headerFields(headers));
    this.down.sendHeaders(this.dstream, headers, endStream, up.conn.neverIndexed);
    if (endStream) this.complete(grpcStatus, '');
  }

  responseData(up: UpstreamConn, stream: H2Stream, data: Buffer, endStream: boolean): void {
    if (stream !== this.ustream) return up.conn.consumed(stream, data.length);
    const sent = this.down.sendData(this.dstream, data, endStream);
    if (sent > 0) up.conn.consumed(stream, sent);
    if (this.tap !== undefined) this.tap.bytes += data.length;
    if (endStream) this.complete(-1, '');
  }

  responseTrailers(up: UpstreamConn, stream: H2Stream, trailers: string[]): void {
    if (stream !== this.ustream) return;
    this.down.sendTrailers(this.dstream, trailers, up.conn.neverIndexed);
    this.complete(grpcStatusIn(trailers), '');
  }

  upstreamReset(up: UpstreamConn, stream: H2Stream, code: number): void {
    if (stream !== this.ustream || this.phase === X_DONE) return;
    this.ustream = undefined;
    if (this.phase === X_RESPONDING) {
      // The response began but did not end: reset the client's stream too. NO_ERROR would read as
      // "response complete", so a stream that merely vanished is reset with INTERNAL_ERROR.
      this.down.reset(this.dstream, code !== ErrorCode.NO_ERROR ? code : ErrorCode.INTERNAL_ERROR);
      this.complete(-1, 'upstream_reset');
      return;
    }
    if (code === ErrorCode.REFUSED_STREAM && !this.resent && this.replay !== undefined) {
      // Refused unprocessed (RFC 9113 §8.7): safe to send again, once, on a fresh stream.
      this.resent = true;
      this.settle(undefined);
      this.env.ctx.log.debug('HTTP/2 stream refused by the upstream unprocessed; sending it again', { authority: this.authority });
      return this.attempt();
    }
    this.attemptFailed(up.error === undefined ? 'upstream_reset' : classifyUpstreamError(up.error));
  }

  /** Deadlines, from the front's sweep. */
  check(now: number): void {
    if (this.phase === X_WAITING && this.deadline > 0 && now >= this.deadline) {
      this.deadline = 0;
      this.env.ctx.log.info('HTTP/2 request timed out', { direction: this.env.direction, authority: this.authority });
      this.dropUpstream(ErrorCode.CANCEL);
      this.settle(true);
      this.retryAfter(ERROR_RESPONSES.response_timeout.status, -1, true, performance.now() - this.attemptStart, 'response_timeout');
      this.fail('response_timeout');
    }
  }

  // ── Outcomes ────────────────────────────────────────────────────────────────────────────────────

  /** An attempt ended without a response head: retry it when the route allows, else answer the error. */
  private attemptFailed(kind: ProxyErrorKind): void {
    this.ustream = undefined;
    // Shed here (the queue to the endpoint was full): it never reached the endpoint, so it is no failure
    // of it. Counted as one, a burst above capacity ejected the endpoint and failed what followed fast.
    const rtt = kind === 'overloaded' ? this.withdraw() : this.settle(true);
    if (!this.retryAfter(ERROR_RESPONSES[kind].status, -1, true, rtt, kind)) this.fail(kind);
  }

  /** Counts an attempt for its route and sends the request again when route, body and budget allow. */
  private retryAfter(status: number, grpcStatus: number, failed: boolean, rtt: number, kind: ProxyErrorKind | ''): boolean {
    const dest = this.dest;
    if (dest === undefined) return false;
    if (!shouldRetry(this.route, this.routeStats as RouteStats, dest, this.replay, status, grpcStatus, failed, rtt, kind)) return false;
    (this.stats as HttpStats).response(status, grpcStatus, rtt, kind, kind === '' ? failed : undefined);
    this.dropUpstream(ErrorCode.CANCEL);
    this.attempt();
    return true;
  }

  private settle(failed: boolean | undefined): number {
    const rtt = performance.now() - this.attemptStart;
    const endpoint = this.endpoint;
    if (endpoint !== undefined) {
      this.endpoint = undefined;
      endpoint.answered(rtt);
      if (failed !== undefined) endpoint.outcome(failed);
    }
    return rtt;
  }

  /** The attempt in flight was shed before it was sent, after the returned time. */
  private withdraw(): number {
    const endpoint = this.endpoint;
    if (endpoint !== undefined) {
      this.endpoint = undefined;
      endpoint.withdrawn();
    }
    return performance.now() - this.attemptStart;
  }

  /** The response went through whole (or was cut): counted once, with its gRPC status if any. */
  private complete(grpcStatus: number, error: ProxyErrorKind | ''): void {
    if (this.phase === X_DONE) return;
    // The response is whole while the request is not: the upstream stream must not linger half-open
    // (RST_STREAM NO_ERROR: "response complete, stop sending", RFC 9113 §8.1); the rest of the
    // client's body is read and dropped.
    const stream = this.ustream;
    if (stream !== undefined && !stream.closed && !stream.localEnded) (this.up as UpstreamConn).conn.reset(stream, ErrorCode.NO_ERROR);
    const stats = this.stats as HttpStats;
    const failed = error !== '' || this.route.isFailure(this.status, grpcStatus);
    if (this.dest !== undefined) {
      stats.response(this.status, grpcStatus, this.latencyMs, error, failed);
      this.routeStats?.response(this.status, grpcStatus, failed, performance.now() - this.startedAt, error);
    } else {
      stats.response(this.status, grpcStatus, this.latencyMs, error);
    }
    this.end(error === '' && grpcStatus >= 0 ? { grpc_status_code: grpcStatus } : undefined);
  }

  /** Answers the stream for the proxy itself and counts it. */
  private fail(kind: ProxyErrorKind): void {
    if (this.phase === X_DONE) return;
    const { ctx, direction } = this.env;
    this.dropUpstream(ErrorCode.CANCEL);
    const { status, grpc: grpcStatus } = ERROR_RESPONSES[kind];
    const latency = performance.now() - this.startedAt;
    const stats = this.stats ?? ctx.metrics.http(direction, this.authority, this.target, '', directTlsLabels(ctx, this.conn));
    if (this.stats === undefined) stats.request();
    stats.response(this.grpc ? 200 : status, this.grpc ? grpcStatus : -1, latency, kind);
    this.routeStats?.response(this.grpc ? 200 : status, this.grpc ? grpcStatus : -1, true, latency, kind);
    ctx.metrics.httpError(direction, kind);
    ctx.log.info('HTTP/2 request failed', { direction, authority: this.authority, error: kind });
    if (ctx.taps.active && this.tap === undefined) this.startTap(this.target);
    this.tap?.responseInit(this.grpc ? 200 : status, () => []);
    if (this.phase === X_RESPONDING) {
      this.down.reset(this.dstream, ErrorCode.INTERNAL_ERROR);
    } else if (!this.dstream.closed) {
      const answer = h2ErrorAnswer(kind, this.grpc);
      this.down.sendHeaders(this.dstream, answer.headers, answer.body === undefined);
      if (answer.body !== undefined) this.down.sendData(this.dstream, answer.body, true);
    }
    // Body bytes waiting for a stream have nowhere to go now.
    for (const chunk of this.pending) this.down.consumed(this.dstream, chunk.length);
    this.pending = [];
    this.end(this.grpc ? { grpc_status_code: grpcStatus } : undefined);
  }

  private dropUpstream(code: number): void {
    const stream = this.ustream;
    this.ustream = undefined;
    if (stream !== undefined && !stream.closed) (this.up as UpstreamConn).conn.reset(stream, code);
    else if (this.phase === X_WAITING) this.up?.cancel(this);
  }

  private end(eos: { grpc_status_code: number } | { reset_error_code: number } | undefined): void {
    this.phase = X_DONE;
    this.env.untrack(this);
    const dest = this.dest;
    if (dest !== undefined) leaveDestination(this.env.mesh as Http1Mesh, dest);
    this.tap?.responseEnd(eos, () => undefined);
  }

  private startTap(addr: HostPort | undefined): void {
    const { socket } = this.down;
    const source = socket.remoteAddress === undefined || socket.remotePort === undefined ? undefined : { host: socket.remoteAddress, port: socket.remotePort };
    const tls = tapTls(this.env.ctx, this.conn, this.endpoint);
    const request = { direction: this.env.direction, source, destination: addr, destinationLabels: this.endpoint?.labels, method: this.method, tls };
    const headers = this.headers;
    this.tap = this.env.ctx.taps.start({ ...request, scheme: this.scheme, authority: this.authority, path: pathOf(this.path) }, () => headerFields(headers), this.startedAt);
  }
}

const EMPTY = Buffer.alloc(0);

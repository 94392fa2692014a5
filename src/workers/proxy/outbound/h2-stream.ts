// An outbound HTTP/2 (gRPC) stream to a destination the Destination service resolved: each attempt is a
// stream on the HTTP/2 connection of an endpoint chosen by P2C over peak-EWMA (one connection per
// endpoint, shared by its streams). The profile route's timeout bounds the exchange until the response
// head; a failed attempt of a retryable route is sent again while the request body so far (≤ 64 KiB) is
// at hand and the budget allows. A failure is known at the response head: an HTTP status the route
// classes as failure, or a gRPC status in a trailers-only response. A gRPC error that only arrives in
// trailers, after messages were relayed, is never retried. As in http2.ts, each side is ended only by a
// clean end of the other, and resets are passed on as resets.
import type http2 from 'node:http2';
import type { HostPort } from '../../../config/parse.ts';
import type { HttpStats } from '../../../telemetry/proxy-metrics.ts';
import type { Destination } from '../../discovery/destination-cache.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import { ERROR_RESPONSES, GRPC_STATUS, ProxyError, classifyUpstreamError, isGrpcContentType, type ProxyErrorKind } from '../../../core/errors.ts';
import { parseGrpcTimeout } from '../../http2/grpc-timeout.ts';
import type { H2Proxy } from '../http2/stack.ts';
import type { MeshContext } from './mesh-context.ts';
import { pathOf, type Route } from '../../profiles/routes.ts';
import { ReplayBuffer, decideRetry } from '../../retry/retry.ts';
import type { RouteStats } from '../../profiles/route-metrics.ts';
import { tapDestination } from '../../tap/node-hooks.ts';
import { connectUpstream } from '../../transport/connect.ts';
import { causeOf, codeOf, grpcStatusOf } from '../http2/stream-status.ts';
import { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, nodeHttp2 } from '../builtins.ts';

const END_STREAM = 0x1;

export function forwardMeshH2(
  mesh: MeshContext,
  stack: H2Proxy,
  dest: Destination,
  client: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  flags: number,
  target: HostPort,
  start: number,
): void {
  client.on('error', () => {});
  // The client may have reset its stream while the destination was being resolved.
  if (client.destroyed || client.closed) return;
  new MeshStream(mesh, stack, dest, client, headers, (flags & END_STREAM) !== 0, target, start).run();
}

/** The endpoint's HTTP/2 connection; a new one once the old is closing or gone. */
function endpointSession(mesh: MeshContext, endpoint: Endpoint): http2.ClientHttp2Session {
  const existing = endpoint.h2Session;
  if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
  const { ctx } = mesh;
  const session = nodeHttp2().connect(`http://${endpoint.key}`, {
    createConnection: () => {
      const socket = connectUpstream(endpoint.addr, ctx.connectTimeoutMs('outbound'));
      ctx.tracker.track(socket, ctx.metrics.tcp('outbound', 'dst', endpoint.addr));
      return socket;
    },
  });
  const forget = (): void => {
    if (endpoint.h2Session === session) endpoint.h2Session = undefined;
  };
  session.on('error', (error) => ctx.log.debug('HTTP/2 endpoint session error', { endpoint: endpoint.key, error: error.message }));
  // After GOAWAY, streams already sent finish on this connection; new ones open a fresh one.
  session.on('goaway', forget);
  session.once('close', forget);
  session.setTimeout(ctx.config.httpPoolIdleTimeoutMs, () => {
    forget();
    session.close();
  });
  endpoint.h2Session = session;
  return session;
}

class MeshStream {
  private readonly mesh: MeshContext;
  private readonly stack: H2Proxy;
  private readonly dest: Destination;
  private readonly client: http2.ServerHttp2Stream;
  private readonly headers: http2.IncomingHttpHeaders;
  private readonly bodyless: boolean;
  private readonly target: HostPort;
  private readonly start: number;
  private readonly grpc: boolean;
  private readonly route: Route;
  private readonly routeStats: RouteStats;
  private readonly replay = new ReplayBuffer();
  private attempt = 0;
  private upstream: http2.ClientHttp2Stream | undefined;
  private upstreamError: unknown;
  /** The endpoint of the attempt in flight, until its response head (or failure) arrives. */
  private pending: Endpoint | undefined;
  private stats: HttpStats | undefined;
  private attemptStart = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The attempt whose response goes to the client has been chosen (or a synthesized answer). */
  private done = false;
  private status = 0;
  private headLatencyMs = 0;
  private attemptLatencyMs = 0;
  private finalEndpoint: Endpoint | undefined;
  private responseTrailers: http2.IncomingHttpHeaders | undefined;
  private requestTrailers: http2.IncomingHttpHeaders | undefined;
  private requestEnded = false;
  private responseEnded = false;
  private clientGone = false;
  private counted = false;
  /** A stream refused unprocessed (REFUSED_STREAM, out of stream ids) goes again once, budget-free. */
  private resent = false;

  constructor(
    mesh: MeshContext,
    stack: H2Proxy,
    dest: Destination,
    client: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    bodyless: boolean,
    target: HostPort,
    start: number,
  ) {
    this.mesh = mesh;
    this.stack = stack;
    this.dest = dest;
    this.client = client;
    this.headers = headers;
    this.bodyless = bodyless;
    this.target = target;
    this.start = start;
    this.grpc = isGrpcContentType(headers['content-type']);
    this.route = dest.profile.route(String(headers[':method'] ?? 'GET'), pathOf(String(headers[':path'] ?? '/')));
    this.routeStats = mesh.routes.route('outbound', dest.authority, this.route.labels);
  }

  private get authority(): string {
    return String(this.headers[':authority'] ?? this.headers.host ?? '');
  }

  run(): void {
    const { client, dest } = this;
    this.routeStats.request();
    dest.budget.deposit();
    dest.active++;
    const timeoutMs = this.timeoutMs();
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.onTimeout(), timeoutMs);
    if (!this.bodyless) {
      client.on('trailers', (trailers) => {
        this.requestTrailers = trailers;
      });
      client.on('data', (chunk: Buffer) => this.replay.add(chunk));
      client.once('end', () => {
        if (client.destroyed) return; // a reset, not the end of the body
        this.requestEnded = true;
        this.upstream?.end();
      });
    }
    client.once('close', () => {
      dest.active--;
      dest.lastUsed = this.mesh.cache.now();
      this.onClientClose();
    });
    this.send();
  }

  /** The route's timeout (else the proxy's response timeout for non-gRPC), and a gRPC call's own deadline. */
  private timeoutMs(): number | undefined {
    const own = this.grpc ? parseGrpcTimeout(this.headers['grpc-timeout']) : undefined;
    const route = this.route.timeoutMs ?? (this.grpc ? undefined : this.mesh.ctx.config.httpResponseTimeoutMs || undefined);
    if (own === undefined) return route;
    return route === undefined ? own : Math.min(own, route);
  }

  private send(): void {
    const pick = this.dest.endpoints.pick();
    if (typeof pick === 'string') {
      const stats = this.mesh.ctx.metrics.http('outbound', this.authority, this.target);
      stats.request();
      this.fail(pick, stats);
      return;
    }
    const endpoint = pick;
    const id = ++this.attempt;
    endpoint.dispatched();
    this.pending = endpoint;
    this.attemptStart = performance.now();
    const stats = this.mesh.ctx.metrics.http('outbound', this.authority, endpoint.addr, endpoint.dstLabels);
    stats.request();
    this.stats = stats;
    this.routeStats.actualRequest();
    if (this.mesh.ctx.taps.active) tapDestination(this.client, endpoint.addr, endpoint.labels);
    this.upstreamError = undefined;
    let session: http2.ClientHttp2Session;
    let upstream: http2.ClientHttp2Stream;
    try {
      session = endpointSession(this.mesh, endpoint);
      // Request trailers, if the client sends any, follow the body (sent from 'wantTrailers').
      upstream = session.request(this.headers, { endStream: this.bodyless, waitForTrailers: !this.bodyless });
    } catch (error) {
      this.upstream = undefined;
      this.attemptFailed(id, endpoint, stats, error);
      return;
    }
    this.upstream = upstream;
    upstream.on('error', (error) => {
      if (id === this.attempt) this.upstreamError = error;
    });
    upstream.on('headers', (informational) => this.onInformational(id, informational));
    upstream.once('response', (headers, flags) => this.onResponse(id, endpoint, stats, upstream, headers, flags));
    upstream.on('trailers', (trailers) => {
      if (id === this.attempt) this.responseTrailers = trailers;
    });
    upstream.on('wantTrailers', () => upstream.sendTrailers(this.requestTrailers ?? {}));
    upstream.once('close', () => this.onUpstreamClose(id, endpoint, stats, session, upstream));
    if (this.bodyless) return;
    if (id > 1) for (const chunk of this.replay.chunks) upstream.write(chunk);
    if (this.requestEnded) upstream.end();
    else this.client.pipe(upstream, { end: false });
  }

  private settle(endpoint: Endpoint): number {
    const rtt = performance.now() - this.attemptStart;
    if (this.pending === endpoint) {
      this.pending = undefined;
      endpoint.answered(rtt);
    }
    return rtt;
  }

  /** Stops an attempt that will not be answered to the client. */
  private abandon(upstream: http2.ClientHttp2Stream | undefined): void {
    if (upstream === undefined) return;
    this.client.unpipe(upstream);
    if (!upstream.closed && !upstream.destroyed) upstream.close(NGHTTP2_CANCEL);
  }

  /** 1xx responses (100 Continue, 103 Early Hints) go to the client ahead of the final response. */
  private onInformational(id: number, headers: http2.IncomingHttpHeaders): void {
    const status = Number(headers[':status']);
    const { client } = this;
    if (id !== this.attempt || this.done || client.headersSent || client.closed || client.destroyed) return;
    if (status >= 100 && status < 200 && status !== 101) client.additionalHeaders(headers);
  }

  private onResponse(
    id: number,
    endpoint: Endpoint,
    stats: HttpStats,
    upstream: http2.ClientHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
  ): void {
    if (id !== this.attempt || this.done) return;
    const rtt = this.settle(endpoint);
    const status = Number(headers[':status'] ?? 502);
    const endStream = (flags & END_STREAM) !== 0;
    // Headers-only (for gRPC, "trailers-only"): the status, if any, is right here.
    const headGrpcStatus = endStream ? grpcStatusOf(headers) : -1;
    const failedAtHead = this.route.isFailure(status, headGrpcStatus);
    const usable = this.bodyless || !this.replay.overflowed ? this.replay : undefined;
    const retry = decideRetry(this.route, failedAtHead, false, usable, this.dest.budget);
    if (retry !== undefined) this.routeStats.retryable(retry);
    if (retry === 'retried') {
      endpoint.outcome(true);
      stats.response(status, headGrpcStatus, rtt, '', true);
      this.routeStats.actualResponse(status, headGrpcStatus, true, rtt);
      this.abandon(upstream);
      this.send();
      return;
    }
    this.finish();
    this.status = status;
    this.attemptLatencyMs = rtt;
    this.headLatencyMs = performance.now() - this.start;
    this.finalEndpoint = endpoint;
    const { client } = this;
    if (client.closed || client.destroyed) return;
    if (endStream) {
      this.responseEnded = true;
      this.count(stats, headGrpcStatus);
      client.respond(headers, { endStream: true });
      return;
    }
    client.respond(headers, { waitForTrailers: true });
    client.on('wantTrailers', () => {
      this.count(stats, this.responseTrailers === undefined ? -1 : grpcStatusOf(this.responseTrailers));
      client.sendTrailers(this.responseTrailers ?? {});
    });
    upstream.pipe(client, { end: false });
    upstream.once('end', () => {
      if (upstream.destroyed) return; // a reset: onUpstreamClose passes it on
      this.responseEnded = true;
      client.end();
    });
  }

  private onUpstreamClose(id: number, endpoint: Endpoint, stats: HttpStats, session: http2.ClientHttp2Session, upstream: http2.ClientHttp2Stream): void {
    if (id !== this.attempt || this.clientGone) return;
    const { client } = this;
    if (!this.done) {
      if (this.refusedUnprocessed(upstream)) {
        this.settle(endpoint);
        this.resent = true;
        if (codeOf(this.upstreamError) === 'ERR_HTTP2_OUT_OF_STREAMS') {
          if (endpoint.h2Session === session) endpoint.h2Session = undefined;
          session.close();
        }
        this.client.unpipe(upstream);
        this.send();
        return;
      }
      this.attemptFailed(id, endpoint, stats, causeOf(this.upstreamError) ?? new ProxyError('upstream_reset'));
      return;
    }
    if (!this.responseEnded) {
      // The response began but did not end: reset the client's stream too (NO_ERROR would read as
      // "response complete").
      this.count(stats, -1, 'upstream_reset');
      const code = upstream.rstCode !== undefined && upstream.rstCode !== NGHTTP2_NO_ERROR ? upstream.rstCode : NGHTTP2_INTERNAL_ERROR;
      if (!client.closed && !client.destroyed) client.close(code);
      return;
    }
    // The response is complete; whatever the client still sends has nowhere to go.
    if (!this.requestEnded) client.resume();
  }

  private refusedUnprocessed(upstream: http2.ClientHttp2Stream): boolean {
    if (this.resent || this.client.closed || this.client.destroyed) return false;
    if (!this.bodyless && this.replay.overflowed) return false;
    return upstream.rstCode === NGHTTP2_REFUSED_STREAM || codeOf(this.upstreamError) === 'ERR_HTTP2_OUT_OF_STREAMS';
  }

  /** An attempt ended without a response head: retry it when the route allows, else answer the error. */
  private attemptFailed(id: number, endpoint: Endpoint, stats: HttpStats, error: unknown): void {
    if (id !== this.attempt || this.done) return;
    const rtt = this.settle(endpoint);
    endpoint.outcome(true);
    const kind = classifyUpstreamError(error);
    const { status, grpcStatus } = this.errorStatus(kind);
    this.routeStats.actualResponse(status, grpcStatus, true, rtt, kind);
    const usable = this.bodyless || !this.replay.overflowed ? this.replay : undefined;
    const retry = decideRetry(this.route, true, false, usable, this.dest.budget);
    if (retry !== undefined) this.routeStats.retryable(retry);
    if (retry === 'retried') {
      stats.response(status, grpcStatus, rtt, kind);
      if (this.upstream !== undefined) this.client.unpipe(this.upstream);
      this.send();
      return;
    }
    this.fail(kind, stats);
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.done) return;
    this.attempt++;
    const endpoint = this.pending;
    if (endpoint !== undefined) {
      const rtt = this.settle(endpoint);
      endpoint.outcome(true);
      const { status, grpcStatus } = this.errorStatus('response_timeout');
      this.routeStats.actualResponse(status, grpcStatus, true, rtt, 'response_timeout');
    }
    this.abandon(this.upstream);
    this.fail('response_timeout', this.stats ?? this.mesh.ctx.metrics.http('outbound', this.authority, this.target));
  }

  private onClientClose(): void {
    clearTimeout(this.timer);
    const { client, upstream } = this;
    if (upstream === undefined || upstream.closed || upstream.destroyed) return;
    // A clean close after a complete response: the upstream stream finishes on its own.
    if (client.rstCode === NGHTTP2_NO_ERROR && this.responseEnded) return;
    // The client reset its stream or went away: reset the upstream stream with the same code.
    this.clientGone = true;
    this.done = true;
    if (this.pending !== undefined) this.settle(this.pending);
    upstream.close(client.rstCode || NGHTTP2_CANCEL);
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private errorStatus(kind: ProxyErrorKind): { status: number; grpcStatus: number } {
    const response = ERROR_RESPONSES[kind];
    return this.grpc ? { status: 200, grpcStatus: response.grpc } : { status: response.status, grpcStatus: -1 };
  }

  /** Answers the stream for the proxy itself (http2.ts's error table) and counts the failure. */
  private fail(kind: ProxyErrorKind, stats: HttpStats): void {
    this.finish();
    this.counted = true;
    const { status, grpcStatus } = this.errorStatus(kind);
    this.routeStats.response(status, grpcStatus, true, performance.now() - this.start, kind);
    this.stack.fail(this.client, stats, this.start, kind, this.grpc);
    // The response is final; drop the rest of the body rather than leave the client blocked on it.
    if (!this.bodyless && !this.requestEnded) this.client.resume();
  }

  /** Counts the relayed response once, when its outcome (gRPC status in trailers) is known. */
  private count(stats: HttpStats, grpcStatus: number, error: ProxyErrorKind | '' = ''): void {
    if (this.counted) return;
    this.counted = true;
    const failed = error !== '' || this.route.isFailure(this.status, grpcStatus);
    this.finalEndpoint?.outcome(failed);
    stats.response(this.status, grpcStatus, this.attemptLatencyMs, error, failed);
    this.routeStats.actualResponse(this.status, grpcStatus, failed, this.attemptLatencyMs, error);
    this.routeStats.response(this.status, grpcStatus, failed, this.headLatencyMs, error);
  }
}


// An outbound HTTP/1.x request to a destination the Destination service resolved: each attempt goes to
// an endpoint chosen by P2C over peak-EWMA, over that endpoint's keep-alive connections (the stack's
// agent pools per `host:port`). The destination's profile decides the route: its timeout bounds the
// whole exchange, retries included; its response classes decide failure; a failed attempt of a
// retryable route is sent again while the body (≤ 64 KiB) is at hand, the response has not begun and
// the budget allows. The request body streams to the current attempt with backpressure as it arrives.
import type http from 'node:http';
import { formatHostPort, type HostPort } from '../../../config/parse.ts';
import type { HttpStats } from '../../../telemetry/proxy-metrics.ts';
import type { Destination } from '../../discovery/destination-cache.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import { ERROR_RESPONSES, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import { framing, headerPairs as pairs, relayInformational, stripHopByHop } from '../../http1/headers.ts';
import { MESH_PEER, type Http1Proxy } from '../http1/node-stack.ts';
import { endpointTlsLabels, peerOf } from '../mesh-tls.ts';
import type { MeshContext } from './mesh-context.ts';
import { pathOf, type Route } from '../../profiles/routes.ts';
import { ReplayBuffer, decideRetry } from '../../retry/retry.ts';
import type { RouteStats } from '../../profiles/route-metrics.ts';
import { tapDestination } from '../../tap/node-hooks.ts';
import { nodeHttp } from '../builtins.ts';

export function forwardMeshHttp1(
  mesh: MeshContext,
  stack: Http1Proxy,
  dest: Destination,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: HostPort,
  path: string,
  start: number,
): void {
  // The client may have left while the destination was being resolved.
  if (res.destroyed || req.destroyed) return;
  new Http1Exchange(mesh, stack, dest, req, res, target, path, start).run();
}

class Http1Exchange {
  private readonly mesh: MeshContext;
  private readonly stack: Http1Proxy;
  private readonly dest: Destination;
  private readonly req: http.IncomingMessage;
  private readonly res: http.ServerResponse;
  private readonly target: HostPort;
  private readonly path: string;
  private readonly start: number;
  private readonly route: Route;
  private readonly routeStats: RouteStats;
  private headers: string[] = [];
  private bodyless = true;
  /** The body so far, kept only for retryable routes. */
  private replay: ReplayBuffer | undefined;
  /** Incremented per attempt; handlers of an abandoned attempt see a stale id and do nothing. */
  private attempt = 0;
  private upstream: http.ClientRequest | undefined;
  /** The endpoint of the attempt in flight, until its response head (or failure) arrives. */
  private pending: Endpoint | undefined;
  private stats: HttpStats | undefined;
  private attemptStart = 0;
  private requestEnded = false;
  private pausedForDrain = false;
  /** The final answer (upstream or synthesized) has been chosen. */
  private done = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    mesh: MeshContext,
    stack: Http1Proxy,
    dest: Destination,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: HostPort,
    path: string,
    start: number,
  ) {
    this.mesh = mesh;
    this.stack = stack;
    this.dest = dest;
    this.req = req;
    this.res = res;
    this.target = target;
    this.path = path;
    this.start = start;
    this.route = dest.profile.route(req.method ?? 'GET', pathOf(path));
    this.routeStats = mesh.routes.route('outbound', dest.authority, this.route.labels);
  }

  run(): void {
    const { req, res, dest, route } = this;
    this.routeStats.request();
    dest.budget.deposit();
    dest.active++;
    res.once('close', () => {
      dest.active--;
      dest.lastUsed = this.mesh.cache.now();
      if (!this.done) this.abandon();
    });
    const raw = req.rawHeaders;
    this.headers = stripHopByHop(raw);
    const { chunked, contentLength } = framing(raw);
    // Node only chunk-encodes bodies of methods that usually carry one; say so for the others.
    if (chunked) this.headers.push('Transfer-Encoding', 'chunked');
    // HTTP/1.1 requires Host; an HTTP/1.0 client may have sent none.
    if (req.headers.host === undefined) this.headers.push('Host', formatHostPort(this.target));
    this.bodyless = contentLength === 0 || (contentLength === undefined && !chunked);
    if (route.isRetryable) this.replay = new ReplayBuffer();
    const timeoutMs = route.timeoutMs ?? this.mesh.ctx.config.httpResponseTimeoutMs;
    if (timeoutMs > 0) this.timer = setTimeout(() => this.onTimeout(timeoutMs), timeoutMs);
    if (this.bodyless) {
      this.requestEnded = true;
      req.resume();
    } else {
      req.on('data', (chunk: Buffer) => this.onBody(chunk));
      req.once('end', () => {
        this.requestEnded = true;
        const up = this.upstream;
        if (up !== undefined && !up.destroyed) up.end();
      });
    }
    this.send();
  }

  private onBody(chunk: Buffer): void {
    this.replay?.add(chunk);
    const up = this.upstream;
    if (up === undefined || up.destroyed) return;
    if (!up.write(chunk)) {
      this.req.pause();
      this.pausedForDrain = true;
      up.once('drain', () => {
        if (this.upstream !== up || !this.pausedForDrain) return;
        this.pausedForDrain = false;
        this.req.resume();
      });
    }
  }

  /** Sends one attempt to an endpoint of the destination. */
  private send(): void {
    const pick = this.dest.endpoints.pick();
    if (typeof pick === 'string') {
      const stats = this.mesh.ctx.metrics.http('outbound', this.req.headers.host ?? '', this.target, '', endpointTlsLabels(this.mesh.ctx, undefined));
      stats.request();
      this.finishWithError(pick, stats);
      return;
    }
    const endpoint = pick;
    const id = ++this.attempt;
    endpoint.dispatched();
    this.pending = endpoint;
    this.attemptStart = performance.now();
    const { ctx } = this.mesh;
    const stats = ctx.metrics.http('outbound', this.req.headers.host ?? '', endpoint.addr, endpoint.dstLabels, endpointTlsLabels(ctx, endpoint));
    stats.request();
    this.stats = stats;
    this.routeStats.actualRequest();
    if (this.mesh.ctx.taps.active) tapDestination(this.res, endpoint.addr, endpoint.labels);
    const up = nodeHttp().request({
      host: endpoint.addr.host,
      port: endpoint.addr.port,
      method: this.req.method,
      path: this.path,
      headers: this.headers as unknown as http.OutgoingHttpHeaders,
      agent: this.stack.agent,
      setHost: false,
      // Read by the stack's agent (node-stack.ts): the connection goes in mesh TLS to this identity.
      [MESH_PEER]: peerOf(ctx, endpoint),
    } as http.RequestOptions);
    this.upstream = up;
    up.on('information', (info) => {
      if (id === this.attempt && !this.done) relayInformational(this.res, info);
    });
    up.once('response', (upRes) => this.onResponse(id, endpoint, stats, up, upRes));
    up.on('error', (error) => this.onError(id, endpoint, stats, error));
    if (this.bodyless) {
      up.end();
      return;
    }
    if (id > 1) for (const chunk of this.replay?.chunks ?? []) up.write(chunk);
    if (this.requestEnded) up.end();
    if (this.pausedForDrain) {
      // The previous attempt's connection was holding the body back; this one starts afresh.
      this.pausedForDrain = false;
      this.req.resume();
    }
  }

  /** The attempt in flight got its answer after `rttMs`; counts it for the endpoint's latency. */
  private settle(endpoint: Endpoint): number {
    const rtt = performance.now() - this.attemptStart;
    if (this.pending === endpoint) {
      this.pending = undefined;
      endpoint.answered(rtt);
    }
    return rtt;
  }

  private onResponse(id: number, endpoint: Endpoint, stats: HttpStats, up: http.ClientRequest, upRes: http.IncomingMessage): void {
    if (id !== this.attempt || this.done) {
      upRes.resume();
      return;
    }
    const rtt = this.settle(endpoint);
    const status = upRes.statusCode ?? 502;
    const failed = this.route.isFailure(status, -1);
    endpoint.outcome(failed);
    stats.response(status, -1, rtt, '', failed);
    this.routeStats.actualResponse(status, -1, failed, rtt);
    const retry = decideRetry(this.route, failed, false, this.replay, this.dest.budget);
    if (retry !== undefined) this.routeStats.retryable(retry);
    if (retry === 'retried') {
      // Read the failed response to its end so its connection can be reused, unless the request body
      // was still being sent on it: then the connection is done for.
      upRes.on('error', () => {});
      if (up.writableFinished) upRes.resume();
      else up.destroy();
      this.send();
      return;
    }
    this.finish();
    this.routeStats.response(status, -1, failed, performance.now() - this.start);
    const { res } = this;
    if (res.destroyed) {
      upRes.destroy();
      return;
    }
    if (this.mesh.ctx.draining) res.shouldKeepAlive = false;
    res.writeHead(status, upRes.statusMessage, stripHopByHop(upRes.rawHeaders));
    upRes.pipe(res, { end: false });
    upRes.once('end', () => {
      if (upRes.rawTrailers.length > 0) res.addTrailers(pairs(upRes.rawTrailers));
      res.end();
    });
    upRes.once('error', () => res.destroy());
    // A body cut short: cut the client's response too, so it never looks complete.
    upRes.once('close', () => {
      if (!upRes.complete) res.destroy();
    });
  }

  private onError(id: number, endpoint: Endpoint, stats: HttpStats, error: Error): void {
    if (id !== this.attempt || this.done) {
      // The response was being relayed: the only honest signal left in HTTP/1 is to cut it.
      if (id === this.attempt && this.res.headersSent) this.res.destroy();
      return;
    }
    const rtt = this.settle(endpoint);
    endpoint.outcome(true);
    const kind = classifyUpstreamError(error);
    const status = ERROR_RESPONSES[kind].status;
    this.routeStats.actualResponse(status, -1, true, rtt, kind);
    const retry = decideRetry(this.route, true, false, this.replay, this.dest.budget);
    if (retry !== undefined) this.routeStats.retryable(retry);
    if (retry === 'retried') {
      stats.response(status, -1, rtt, kind);
      this.send();
      return;
    }
    this.mesh.ctx.log.info('HTTP request failed', {
      direction: 'outbound',
      authority: this.dest.authority,
      endpoint: endpoint.key,
      error: error.message,
    });
    this.finishWithError(kind, stats);
  }

  /** The route timeout ran out before a response head: the attempt in flight is abandoned. */
  private onTimeout(timeoutMs: number): void {
    this.timer = undefined;
    if (this.done) return;
    this.attempt++;
    const endpoint = this.pending;
    if (endpoint !== undefined) {
      const rtt = this.settle(endpoint);
      endpoint.outcome(true);
      this.routeStats.actualResponse(504, -1, true, rtt, 'response_timeout');
    }
    this.upstream?.destroy();
    this.mesh.ctx.log.info('HTTP request timed out', { direction: 'outbound', authority: this.dest.authority, timeoutMs });
    this.finishWithError('response_timeout', this.stats ?? this.mesh.ctx.metrics.http('outbound', this.req.headers.host ?? '', this.target));
  }

  /** The client went away first: drop the attempt in flight; nothing is answered or counted. */
  private abandon(): void {
    this.finish();
    this.attempt++;
    const endpoint = this.pending;
    if (endpoint !== undefined) this.settle(endpoint);
    this.upstream?.destroy();
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private finishWithError(kind: ProxyErrorKind, stats: HttpStats): void {
    this.finish();
    this.routeStats.response(ERROR_RESPONSES[kind].status, -1, true, performance.now() - this.start, kind);
    const up = this.upstream;
    if (up !== undefined && !up.destroyed) up.destroy();
    this.stack.fail(this.req, this.res, stats, this.start, kind);
  }
}

// One HTTP/1.1 request on the fast engine, from routing to the end of its response, for every destination:
// a Destination service is balanced (P2C, peak-EWMA, failure accrual), bounded by its route's timeout,
// retried on a retryable route while its body (≤ 64 KiB) is at hand and the budget allows, counted in
// route metrics; anything else is one endpoint (DNS or the original destination), no retries. Bytes are
// forwarded as they are over pooled keep-alive connections, only hop-by-hop fields rewritten. One
// Exchange per client connection, reused for each request: nothing allocated per request needlessly.
import type { HostPort } from '../../../config/parse.ts';
import { ERROR_RESPONSES, ProxyError, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import type { HttpStats } from '../../../telemetry/proxy-metrics.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import type { Destination } from '../../discovery/destination-cache.ts';
import { ChunkedScanner, droppedFields, parseHead, rewriteHead, type Head } from '../../http1/parse.ts';
import { B_CHUNKED, B_CLOSE, B_LENGTH, B_NONE, responseFraming, wholeResponseEnd } from '../../http1/response-framing.ts';
import { DEFAULT_ROUTE, type Route } from '../../profiles/routes.ts';
import type { RouteStats } from '../../profiles/route-metrics.ts';
import { ReplayBuffer } from '../../retry/retry.ts';
import { AttemptTarget, chooseTarget, enterDestination, leaveDestination, shouldRetry } from '../route-attempts.ts';
import { headerList } from '../../tap/http1-headers.ts';
import type { TapStream } from '../../tap/registry.ts';
import { errorResponseBytes } from './error-response.ts';
import { directTlsLabels, peerOf } from '../mesh-tls.ts';
import type { ExchangeClient, ExchangeEnv, Http1Mesh } from './exchange-env.ts';
import type { AttemptUpstream, UpstreamOwner } from './upstream-pool.ts';

const MAX_RESPONSE_HEAD = 64 * 1024; // node:http's limit for response heads is larger than for requests
const X_IDLE = 0;
const X_RESOLVING = 1;
const X_WAITING = 2;
const X_RESPONDING = 3;

export class Exchange implements UpstreamOwner {
  private readonly env: ExchangeEnv;
  private readonly client: ExchangeClient;
  private readonly onDestination = (dest: Destination | undefined): void => this.destination(dest);
  private readonly onResolved = (addr: HostPort | undefined): void => this.resolved(addr);
  private readonly respScanner = new ChunkedScanner();
  private readonly attemptTarget = new AttemptTarget();

  // The request, set by the client connection before begin().
  startedAt = 0;
  method = '';
  host = '';
  path = '';
  headOut: Buffer | undefined;
  /** The request has no body, or all of it has been handed over. */
  requestEnded = true;
  target: HostPort | undefined;
  /** Heads as parsed, beside their bytes, for a side that rebuilds them: the request's (set with headOut), the final response's (set as it is written). */
  requestHeadParsed: Head | undefined;
  responseHeadParsed: Head | undefined;

  private phase = X_IDLE;
  private dest: Destination | undefined;
  private direct: HostPort | undefined;
  private route: Route = DEFAULT_ROUTE;
  private routeStats: RouteStats | undefined;
  private replay: ReplayBuffer | undefined;
  private tap: TapStream | undefined;
  private deadline = 0;
  // The attempt in flight.
  private upstream: AttemptUpstream | undefined;
  private blocked = false;
  private endpoint: Endpoint | undefined;
  private stats: HttpStats | undefined;
  private attemptStart = 0;
  // Its response.
  private respBuf: Buffer | undefined;
  private respSearched = 0;
  private respBody = B_NONE;
  private respRemaining = 0;
  private reusable = false;
  private closeClient = false;

  constructor(env: ExchangeEnv, client: ExchangeClient) {
    this.env = env;
    this.client = client;
  }

  /** Whether request body bytes can be written now. */
  get wantsBody(): boolean {
    return (this.phase === X_WAITING || this.phase === X_RESPONDING) && this.upstream !== undefined && !this.blocked;
  }

  /** The request (fields above) is complete enough to route: its head is parsed. */
  begin(routeTarget: HostPort | undefined): void {
    this.phase = X_RESOLVING;
    this.closeClient = false;
    this.target = routeTarget;
    if (routeTarget === undefined) return this.fail('no_target');
    const mesh = this.env.mesh;
    const key = mesh === undefined || this.client.conn.direction !== 'outbound' ? undefined : mesh.keyFor(routeTarget);
    if (key === undefined) this.env.resolve(this.client.conn, routeTarget, this.onResolved);
    else mesh?.lookup(key, this.onDestination);
  }

  private destination(dest: Destination | undefined): void {
    if (this.phase !== X_RESOLVING) return; // the client left meanwhile
    if (dest === undefined) {
      this.env.resolve(this.client.conn, this.target as HostPort, this.onResolved);
      return;
    }
    this.dest = dest;
    const entry = enterDestination(this.env.mesh as Http1Mesh, dest, this.method, this.path);
    this.route = entry.route;
    this.routeStats = entry.routeStats;
    if (this.route.isRetryable) this.replay = new ReplayBuffer();
    this.start();
  }

  private resolved(addr: HostPort | undefined): void {
    if (this.phase !== X_RESOLVING) return;
    if (addr === undefined) return this.fail('dns_not_found');
    this.direct = addr;
    this.start();
  }

  private start(): void {
    const timeoutMs = this.route.timeoutMs ?? this.env.ctx.config.httpResponseTimeoutMs;
    this.deadline = timeoutMs > 0 ? this.startedAt + timeoutMs : 0;
    this.attempt();
  }

  /** Sends the request to an endpoint: the destination's pick, or the one direct address. */
  private attempt(): void {
    const { ctx } = this.env;
    const target = this.attemptTarget;
    const failed = chooseTarget(target, ctx, this.client.conn, this.host, this.dest, this.direct, this.routeStats);
    if (failed !== undefined) return this.fail(failed);
    const { addr, key, tlsLabels } = target;
    this.endpoint = target.endpoint;
    this.stats = target.stats;
    if (ctx.taps.active && this.tap === undefined) this.tap = this.client.startTap(addr, this.endpoint, this.startedAt);
    this.attemptStart = performance.now();
    this.respBuf = undefined;
    this.respSearched = 0;
    this.reusable = false;
    this.blocked = false;
    // An endpoint Destination hints is a proxy taking HTTP/2: the request crosses the mesh hop as a stream.
    const { upgrades } = this.env;
    const peer = peerOf(ctx, this.endpoint);
    const u = upgrades !== undefined && this.endpoint?.h2 === true ? upgrades.acquire(addr, key, this, peer, tlsLabels) : this.env.pool.acquire(addr, key, this, peer, tlsLabels);
    this.upstream = u;
    this.phase = X_WAITING;
    if (this.requestEnded && this.replay === undefined) return void (this.blocked = !u.socket.write(this.headOut as Buffer)); // one write, no cork
    u.socket.cork();
    if (!u.socket.write(this.headOut as Buffer)) this.blocked = true;
    if (this.replay !== undefined) for (const chunk of this.replay.chunks) if (!u.socket.write(chunk)) this.blocked = true;
    this.client.bodyWanted();
    u.socket.uncork();
  }

  /** Request body bytes from the client; false when the upstream is full (wait for bodyWanted()). */
  body(chunk: Buffer): boolean {
    const u = this.upstream as AttemptUpstream;
    // Kept for a retry only until the response begins: after that nothing is sent again.
    if (this.phase === X_WAITING) this.replay?.add(chunk);
    if (!u.socket.write(chunk)) this.blocked = true;
    return !this.blocked;
  }

  onUpstreamDrain(): void {
    this.blocked = false;
    this.client.bodyWanted();
  }
  /** Deadlines, from the engine's sweep. */
  check(now: number): void {
    if (this.phase === X_WAITING && this.deadline > 0 && now >= this.deadline) {
      this.deadline = 0;
      this.attemptFailed('response_timeout');
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.phase === X_RESPONDING) return this.pumpResponseBody(chunk, 0);
    let buf = this.respBuf === undefined ? chunk : Buffer.concat([this.respBuf, chunk]);
    for (;;) {
      const head = parseHead(buf, false, MAX_RESPONSE_HEAD, this.respSearched);
      if (head === 'need-more') {
        this.respBuf = buf;
        this.respSearched = buf.length;
        return;
      }
      this.respSearched = 0;
      this.respBuf = undefined;
      if (typeof head === 'string') return this.badResponse('unparsable response head');
      if (head.status >= 200) return this.responseHead(buf, head);
      if (head.status === 101) return this.badResponse('101 without an upgrade');
      // 100, 102, 103: forwarded as they come; the final response follows. They commit the exchange.
      this.replay = undefined;
      this.client.writeClient(rewriteHead(buf, head, undefined, droppedFields(head, false), ''));
      if (head.end === buf.length) return;
      buf = buf.subarray(head.end);
    }
  }

  private responseHead(buf: Buffer, head: Head): void {
    const status = head.status;
    const failed = this.route.isFailure(status, -1);
    const rtt = this.settle(failed);
    if (this.retryAfter(status, failed, rtt, '')) return;
    const stats = this.stats as HttpStats;
    if (this.dest !== undefined) {
      stats.response(status, -1, rtt, '', failed);
      this.routeStats?.response(status, -1, failed, performance.now() - this.startedAt);
    } else {
      stats.response(status, -1, performance.now() - this.startedAt);
    }
    this.replay = undefined;
    const framing = responseFraming(head, this.method === 'HEAD');
    if (framing === 'bad') return this.badResponse('conflicting response framing');
    const body = (this.respBody = framing.body);
    this.respRemaining = framing.length;
    if (body === B_CHUNKED) this.respScanner.reset();
    this.reusable = framing.reusable;
    if (this.env.ctx.draining || body === B_CLOSE) this.closeClient = true;
    this.tap?.responseInit(status, () => headerList(head));
    const dropped = droppedFields(head, body === B_CHUNKED);
    const extra = this.closeClient ? 'Connection: close\r\n' : '';
    this.phase = X_RESPONDING;
    this.responseHeadParsed = head;
    // A whole small response in this chunk (the common case): one write, without cork and writev.
    const end = wholeResponseEnd(buf.length, head.end, framing);
    if (end >= 0) {
      if (this.tap !== undefined) this.tap.bytes += end - head.end;
      this.client.writeClient(dropped === undefined && extra === '' ? buf.subarray(0, end) : rewriteHead(buf, head, undefined, dropped, extra, end));
      if (end < buf.length) this.reusable = false;
      return this.responseDone();
    }
    const out = dropped === undefined && extra === '' ? buf.subarray(0, head.end) : rewriteHead(buf, head, undefined, dropped, extra);
    this.client.corkClient();
    this.client.writeClient(out);
    if (body === B_NONE) {
      if (head.end < buf.length) this.reusable = false;
      this.responseDone();
    } else if (head.end < buf.length) {
      this.pumpResponseBody(buf, head.end);
    }
    this.client.uncorkClient();
  }

  private pumpResponseBody(buf: Buffer, from: number): void {
    let end = buf.length;
    let done = false;
    if (this.respBody === B_LENGTH) {
      end = Math.min(buf.length, from + this.respRemaining);
      this.respRemaining -= end - from;
      done = this.respRemaining === 0;
    } else if (this.respBody === B_CHUNKED) {
      const at = this.respScanner.scan(buf, from, buf.length);
      if (at === -2) return this.cut();
      if (at >= 0) {
        end = at;
        done = true;
      }
    }
    if (end > from) {
      const tap = this.tap;
      if (tap !== undefined) tap.bytes = this.respBody === B_CHUNKED ? this.respScanner.dataBytes : tap.bytes + end - from;
      this.client.writeClient(from === 0 && end === buf.length ? buf : buf.subarray(from, end));
    }
    if (done) {
      if (end < buf.length) this.reusable = false;
      this.responseDone();
    }
  }

  /** The client cannot take more: hold the upstream until it drains. */
  pauseUpstream(): void {
    this.upstream?.socket.pause();
  }

  resumeUpstream(): void {
    this.upstream?.socket.resume();
  }

  onUpstreamEnd(): void {
    if (this.phase === X_RESPONDING && this.respBody === B_CLOSE) {
      this.reusable = false;
      this.responseDone();
      return;
    }
    this.onUpstreamError(new ProxyError('upstream_reset', 'connection closed by upstream'));
  }

  onUpstreamError(error: Error): void {
    if (this.upstream === undefined) return;
    // The response is already on its way: the only honest signal left in HTTP/1 is to cut it.
    if (this.phase === X_RESPONDING) return this.cut();
    this.env.ctx.log.info('HTTP request failed', { direction: this.env.direction, authority: this.host, error: error.message });
    this.attemptFailed(classifyUpstreamError(error));
  }

  private badResponse(detail: string): void {
    this.env.ctx.log.info('HTTP request failed', { direction: this.env.direction, authority: this.host, error: detail });
    this.attemptFailed('bad_upstream_response');
  }

  /** The attempt in flight failed before its response began: retry it, or answer the error. */
  private attemptFailed(kind: ProxyErrorKind): void {
    // Shed here (the queue to the endpoint was full): it never reached the endpoint, so it is no failure
    // of it. Counted as one, a burst above capacity ejected the endpoint and failed what followed fast.
    const rtt = kind === 'overloaded' ? this.withdraw() : this.settle(true);
    if (!this.retryAfter(ERROR_RESPONSES[kind].status, true, rtt, kind)) this.fail(kind);
  }

  /**
   * Counts an attempt's outcome for its route and sends the request again when the route, the body
   * kept and the budget allow: true when it did. A route timeout ends the exchange; nothing is retried.
   */
  private retryAfter(status: number, failed: boolean, rtt: number, kind: ProxyErrorKind | ''): boolean {
    const dest = this.dest;
    if (dest === undefined) return false;
    if (!shouldRetry(this.route, this.routeStats as RouteStats, dest, this.replay, status, -1, failed, rtt, kind)) return false;
    (this.stats as HttpStats).response(status, -1, rtt, kind, kind === '' ? failed : undefined);
    this.dropUpstream();
    this.attempt();
    return true;
  }

  /** The endpoint of the attempt in flight answered (or failed) after the returned time. */
  private settle(failed: boolean): number {
    const rtt = performance.now() - this.attemptStart;
    const endpoint = this.endpoint;
    if (endpoint !== undefined) {
      this.endpoint = undefined;
      endpoint.answered(rtt);
      endpoint.outcome(failed);
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

  /** Answers with a proxy-synthesized error and counts it, then the connection goes on (or closes). */
  private fail(kind: ProxyErrorKind): void {
    const { ctx, direction } = this.env;
    this.dropUpstream();
    const { status } = ERROR_RESPONSES[kind];
    const latency = performance.now() - this.startedAt;
    const stats = this.stats ?? ctx.metrics.http(direction, this.host, this.target, '', directTlsLabels(ctx, this.client.conn));
    if (this.stats === undefined) stats.request();
    stats.response(status, -1, latency, kind);
    this.routeStats?.response(status, -1, true, latency, kind);
    ctx.metrics.httpError(direction, kind);
    if (ctx.taps.active && this.tap === undefined) this.tap = this.client.startTap(this.target, undefined, this.startedAt);
    this.tap?.responseInit(status, () => []);
    // A body that has not fully arrived has nowhere to go: answer, then close.
    if (!this.requestEnded || ctx.draining) this.closeClient = true;
    this.client.writeClient(errorResponseBytes(kind, this.closeClient));
    this.finish(this.closeClient);
  }

  private responseDone(): void {
    const u = this.upstream;
    this.upstream = undefined;
    u?.finish(this.reusable && this.requestEnded && !u.ended);
    this.finish(this.closeClient);
  }

  private finish(close: boolean): void {
    this.leave();
    this.client.exchangeDone(close);
  }

  /** A response under way broke: both connections go, so the client never takes it for complete. */
  private cut(): void {
    this.abandon();
    this.client.destroyAll();
  }

  /** The client left (or the exchange is cut): the attempt in flight is dropped, nothing is answered. */
  abandon(): void {
    if (this.phase === X_IDLE) return;
    const endpoint = this.endpoint;
    if (endpoint !== undefined) {
      this.endpoint = undefined;
      endpoint.answered(performance.now() - this.attemptStart);
    }
    this.dropUpstream();
    this.leave();
  }

  /** The exchange is over: the destination is no longer in use by it, the tap sees the end. */
  private leave(): void {
    const dest = this.dest;
    if (dest !== undefined) leaveDestination(this.env.mesh as Http1Mesh, dest);
    this.tap?.responseEnd(undefined, () => undefined);
    this.reset();
  }

  private dropUpstream(): void {
    const u = this.upstream;
    this.upstream = undefined;
    u?.finish(false);
  }

  private reset(): void {
    this.phase = X_IDLE;
    this.dest = undefined;
    this.direct = undefined;
    this.route = DEFAULT_ROUTE;
    this.routeStats = undefined;
    this.replay = undefined;
    this.tap = undefined;
    this.stats = undefined;
    this.endpoint = undefined;
    this.headOut = this.requestHeadParsed = undefined;
    this.respBuf = this.responseHeadParsed = undefined;
    this.deadline = 0;
  }
}

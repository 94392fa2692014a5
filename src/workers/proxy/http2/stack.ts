// The HTTP/2 (h2c) and gRPC stack of one direction: a node:http2 server fed detected connections and one
// multiplexed upstream session per target. Streams map one to one; flow control, trailers (both ways),
// 1xx responses and resets cross the proxy in both directions. A stream the upstream refused unprocessed
// (e.g. racing its GOAWAY) is sent once more on a fresh session.
import type http2 from 'node:http2';
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';
import { formatHostPort } from '../../../config/parse.ts';
import type { Direction, HttpStats } from '../../../telemetry/proxy-metrics.ts';
import {
  ERROR_RESPONSES,
  GRPC_STATUS,
  PROXY_ERROR_HEADER,
  ProxyError,
  classifyUpstreamError,
  isGrpcContentType,
  type ProxyErrorKind,
} from '../../../core/errors.ts';
import { parseGrpcTimeout } from '../../http2/grpc-timeout.ts';
import { httpTarget } from '../routing.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { tapDestination, tapH2 } from '../../tap/node-hooks.ts';
import { connectUpstream } from '../../transport/connect.ts';
import { codeOf, grpcStatusOf } from './stream-status.ts';
import { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, nodeHttp2 } from '../builtins.ts';

const CONN = Symbol('sluice.connection');
type WithConn = { [CONN]?: AcceptedConnection };

const END_STREAM = 0x1;

/**
 * How much of a request body is kept, until the response begins, so that a stream the upstream refused
 * without processing it can be sent again (Linkerd likewise buffers up to 64 KiB of a body for retries).
 * A stream with a larger body that is refused gets an error response instead.
 */
const REPLAY_LIMIT = 64 * 1024;

/** Control-plane routing of one stream (outbound/mesh.ts); false when it does not take it. */
export interface H2MeshRouter {
  h2(
    stack: H2Proxy,
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    conn: AcceptedConnection,
    target: HostPort,
    start: number,
    fallback: () => void,
  ): boolean;
}

export class H2Proxy {
  readonly server: http2.Http2Server;
  readonly ctx: WorkerContext;
  /** Set once at start when a controller is configured (outbound only). */
  mesh: H2MeshRouter | undefined;
  private readonly direction: Direction;
  private readonly upstreams = new Map<string, http2.ClientHttp2Session>();
  private readonly downstreams = new Set<http2.ServerHttp2Session>();
  /** The connection being handed to the server; 'session' fires synchronously inside emit(). */
  private accepting: AcceptedConnection | undefined;

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
    this.server = nodeHttp2().createServer();
    this.server.on('session', (session) => {
      (session as WithConn)[CONN] = this.accepting;
      this.downstreams.add(session);
      session.once('close', () => this.downstreams.delete(session));
      session.on('error', (error) => ctx.log.debug('HTTP/2 client session error', { error: error.message }));
      if (ctx.draining) session.close();
    });
    this.server.on('stream', (stream, headers, flags) => this.onStream(stream, headers, flags));
  }

  serve(socket: net.Socket, conn: AcceptedConnection): void {
    this.accepting = conn;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.accepting = undefined;
    }
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, viaMesh = true): void {
    const start = performance.now();
    const conn = (stream.session as WithConn | undefined)?.[CONN];
    if (conn === undefined) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const authority = headers[':authority'] ?? headers.host ?? '';
    const grpc = isGrpcContentType(headers['content-type']);
    const parsed = authority === '' ? undefined : this.ctx.authorities.get(authority, 80);
    const target = httpTarget(conn, parsed, this.ctx.config);
    // Once per stream: a stream the mesh hands back (mesh.ts) comes through here again with viaMesh false.
    if (viaMesh && this.ctx.taps.active) tapH2(this.ctx, this.direction, stream, headers, authority, target);
    // Destinations the control plane knows are balanced over their endpoints (mesh.ts); others go on here.
    if (viaMesh && target !== undefined && this.mesh?.h2(this, stream, headers, flags, conn, target, start, () => this.onStream(stream, headers, flags, false))) return;
    const stats = this.ctx.metrics.http(this.direction, authority, target);
    stats.request();
    stream.on('error', () => {});
    if (target === undefined) {
      this.fail(stream, stats, start, 'no_target', grpc);
      return;
    }
    if (this.ctx.taps.active) tapDestination(stream, target);
    new ForwardedStream(this, stream, headers, { bodyless: (flags & END_STREAM) !== 0, grpc, target, stats, start }).start();
  }

  /** Answers a stream for the proxy itself and counts the failure. */
  fail(stream: http2.ServerHttp2Stream, stats: HttpStats, start: number, kind: ProxyErrorKind, grpc: boolean): void {
    const { status, grpc: grpcStatus, message } = ERROR_RESPONSES[kind];
    stats.response(grpc ? 200 : status, grpc ? grpcStatus : -1, performance.now() - start, kind);
    this.ctx.metrics.httpError(this.direction, kind);
    this.ctx.log.info('HTTP/2 request failed', { direction: this.direction, error: kind });
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (grpc) {
      // gRPC clients read the outcome from a trailers-only response, never from the HTTP status.
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(grpcStatus),
          'grpc-message': message,
          [PROXY_ERROR_HEADER]: message,
        },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', [PROXY_ERROR_HEADER]: message });
    stream.end(`${message}\n`);
  }

  /** The shared upstream session for a target; a new one once the old is closing or gone. */
  session(target: HostPort): http2.ClientHttp2Session {
    const key = formatHostPort(target);
    const existing = this.upstreams.get(key);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const session = nodeHttp2().connect(`http://${key}`, {
      createConnection: () => {
        const socket = connectUpstream(target, this.ctx.connectTimeoutMs(this.direction));
        this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', target));
        return socket;
      },
    });
    const forget = (): void => {
      if (this.upstreams.get(key) === session) this.upstreams.delete(key);
    };
    session.on('error', (error) => this.ctx.log.debug('HTTP/2 upstream session error', { target: key, error: error.message }));
    // After GOAWAY, streams already sent finish on this session; new ones open a fresh session.
    session.on('goaway', forget);
    session.once('close', forget);
    session.setTimeout(this.ctx.config.httpPoolIdleTimeoutMs, () => {
      forget();
      session.close();
    });
    this.upstreams.set(key, session);
    return session;
  }

  /** Stops using a target's session for new streams (it has run out of stream ids); open ones finish. */
  retire(target: HostPort, session: http2.ClientHttp2Session): void {
    const key = formatHostPort(target);
    if (this.upstreams.get(key) === session) this.upstreams.delete(key);
    session.close();
  }

  /** Sends GOAWAY to every client; their in-flight streams finish, new ones go elsewhere. */
  drain(): void {
    for (const session of this.downstreams) session.close();
    for (const session of this.upstreams.values()) session.close();
    this.upstreams.clear();
  }
}

interface StreamContext {
  /** The client's HEADERS carried END_STREAM: there is no request body. */
  readonly bodyless: boolean;
  readonly grpc: boolean;
  readonly target: HostPort;
  readonly stats: HttpStats;
  /** performance.now() when the stream arrived. */
  readonly start: number;
}

/**
 * One client stream and the upstream stream that carries it (or a second one, if the upstream refused
 * the first unprocessed). Each side is ended only by a clean end of the other: node's streams can
 * emit 'end' after a reset, so ending on 'end' alone (as pipe() does) would turn a reset into a
 * truncated message that looks complete. Resets are passed on as resets, with their code.
 */
class ForwardedStream {
  private readonly proxy: H2Proxy;
  private readonly client: http2.ServerHttp2Stream;
  private readonly headers: http2.IncomingHttpHeaders;
  private readonly ctx: StreamContext;
  private upstream: http2.ClientHttp2Stream | undefined;
  private upstreamError: unknown;
  private timer: NodeJS.Timeout | undefined;
  /** The response's :status once it has begun; 0 until then. */
  private status = 0;
  private latencyMs = 0;
  private responseTrailers: http2.IncomingHttpHeaders | undefined;
  private requestTrailers: http2.IncomingHttpHeaders | undefined;
  /** The client's body ended with END_STREAM (not with a reset). */
  private requestEnded = false;
  /** The upstream's response ended with END_STREAM, and so was ended towards the client. */
  private responseEnded = false;
  /** The request body forwarded so far, while the stream may still have to be sent again. */
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private resent = false;
  /** The client reset its stream or went away while the upstream stream was open. */
  private clientGone = false;
  private counted = false;

  constructor(proxy: H2Proxy, client: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ctx: StreamContext) {
    this.proxy = proxy;
    this.client = client;
    this.headers = headers;
    this.ctx = ctx;
  }

  start(): void {
    const { client, ctx } = this;
    const timeoutMs = ctx.grpc ? parseGrpcTimeout(this.headers['grpc-timeout']) : this.proxy.ctx.config.httpResponseTimeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.upstream?.destroy(new ProxyError('response_timeout', `no response after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (!ctx.bodyless) {
      client.on('trailers', (trailers) => {
        this.requestTrailers = trailers;
      });
      client.on('data', (chunk: Buffer) => this.keepForReplay(chunk));
      client.once('end', () => {
        if (client.destroyed) return; // a reset, not the end of the body
        this.requestEnded = true;
        this.upstream?.end();
      });
    }
    client.once('close', () => this.onClientClose());
    this.open();
  }

  /** Opens the upstream stream and starts the request body (again, from the start, when resending). */
  private open(): void {
    const { client, ctx } = this;
    let session: http2.ClientHttp2Session;
    let upstream: http2.ClientHttp2Stream;
    try {
      session = this.proxy.session(ctx.target);
      // Request trailers, if the client sends any, follow the body (sent from 'wantTrailers').
      upstream = session.request(this.headers, { endStream: ctx.bodyless, waitForTrailers: !ctx.bodyless });
    } catch (error) {
      this.fail(classifyUpstreamError(error));
      return;
    }
    this.upstream = upstream;
    this.upstreamError = undefined;
    upstream.on('error', (error) => {
      this.upstreamError = error;
    });
    upstream.on('headers', (informational) => this.onInformational(upstream, informational));
    upstream.once('response', (headers, flags) => this.onResponse(upstream, headers, flags));
    upstream.on('trailers', (trailers) => {
      this.responseTrailers = trailers;
    });
    upstream.on('wantTrailers', () => upstream.sendTrailers(this.requestTrailers ?? {}));
    upstream.once('close', () => this.onUpstreamClose(session, upstream));
    if (ctx.bodyless) return;
    for (const chunk of this.replay ?? []) upstream.write(chunk);
    if (this.requestEnded) upstream.end();
    else client.pipe(upstream, { end: false });
  }

  private keepForReplay(chunk: Buffer): void {
    if (this.replay === undefined) return;
    this.replayBytes += chunk.length;
    if (this.replayBytes > REPLAY_LIMIT) this.replay = undefined;
    else this.replay.push(chunk);
  }

  /** 1xx responses (100 Continue, 103 Early Hints) go to the client ahead of the final response. */
  private onInformational(upstream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const status = Number(headers[':status']);
    const { client } = this;
    if (upstream !== this.upstream || client.headersSent || client.closed || client.destroyed) return;
    if (status >= 100 && status < 200 && status !== 101) client.additionalHeaders(headers);
  }

  private onResponse(upstream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number): void {
    clearTimeout(this.timer);
    this.status = Number(headers[':status'] ?? 502);
    this.latencyMs = performance.now() - this.ctx.start;
    this.replay = undefined; // the upstream has taken the stream: it will not be sent again
    const { client } = this;
    if (client.closed || client.destroyed) return;
    if ((flags & END_STREAM) !== 0) {
      // Headers-only (for gRPC, "trailers-only"): the status, if any, is right here.
      this.responseEnded = true;
      this.count(grpcStatusOf(headers));
      client.respond(headers, { endStream: true });
      return;
    }
    client.respond(headers, { waitForTrailers: true });
    client.on('wantTrailers', () => {
      this.count(this.responseTrailers === undefined ? -1 : grpcStatusOf(this.responseTrailers));
      client.sendTrailers(this.responseTrailers ?? {});
    });
    upstream.pipe(client, { end: false });
    upstream.once('end', () => {
      if (upstream.destroyed) return; // a reset: onUpstreamClose passes it on
      this.responseEnded = true;
      client.end();
    });
  }

  private onUpstreamClose(session: http2.ClientHttp2Session, upstream: http2.ClientHttp2Stream): void {
    if (upstream !== this.upstream) return;
    clearTimeout(this.timer);
    if (this.clientGone) return; // the client left first, and the upstream stream was reset for it
    const { client } = this;
    if (this.status === 0) {
      if (this.resendable(upstream)) {
        this.resend(session, upstream);
        return;
      }
      // classifyUpstreamError follows `cause`: a stream cancelled before it was sent carries the
      // session's failure (e.g. ECONNREFUSED) there.
      this.fail(this.upstreamError === undefined ? 'upstream_reset' : classifyUpstreamError(this.upstreamError));
      return;
    }
    if (!this.responseEnded) {
      // The response began but did not end: reset the client's stream too. RST_STREAM NO_ERROR would
      // read as "response complete", so a stream that merely vanished (its connection closed) is reset
      // with INTERNAL_ERROR.
      this.count(-1, 'upstream_reset');
      const code = upstream.rstCode !== undefined && upstream.rstCode !== NGHTTP2_NO_ERROR ? upstream.rstCode : NGHTTP2_INTERNAL_ERROR;
      if (!client.closed && !client.destroyed) client.close(code);
      return;
    }
    // The response is complete; whatever the client still sends has nowhere to go.
    if (!this.requestEnded) client.resume();
  }

  /**
   * A stream that got no response may go again when the upstream never processed it: refused with
   * REFUSED_STREAM (as are streams above the last stream id of a GOAWAY, RFC 9113 §6.8, §8.7), or never
   * sent because the session ran out of stream ids. Only once, and only while its body is at hand.
   */
  private resendable(upstream: http2.ClientHttp2Stream): boolean {
    if (this.resent || this.client.closed || this.client.destroyed) return false;
    if (!this.ctx.bodyless && this.replay === undefined) return false;
    return upstream.rstCode === NGHTTP2_REFUSED_STREAM || codeOf(this.upstreamError) === 'ERR_HTTP2_OUT_OF_STREAMS';
  }

  private resend(session: http2.ClientHttp2Session, upstream: http2.ClientHttp2Stream): void {
    this.resent = true;
    if (codeOf(this.upstreamError) === 'ERR_HTTP2_OUT_OF_STREAMS') this.proxy.retire(this.ctx.target, session);
    this.proxy.ctx.log.debug('HTTP/2 stream refused by the upstream unprocessed; sending it again', {
      target: formatHostPort(this.ctx.target),
    });
    this.client.unpipe(upstream);
    this.open();
  }

  private onClientClose(): void {
    clearTimeout(this.timer);
    const { client, upstream } = this;
    if (upstream === undefined || upstream.closed || upstream.destroyed) return;
    // A clean close after a complete response: the upstream stream finishes on its own.
    if (client.rstCode === NGHTTP2_NO_ERROR && this.responseEnded) return;
    // The client reset its stream or went away: reset the upstream stream with the same code.
    this.clientGone = true;
    upstream.close(client.rstCode || NGHTTP2_CANCEL);
  }

  private fail(kind: ProxyErrorKind): void {
    clearTimeout(this.timer);
    this.counted = true;
    this.proxy.fail(this.client, this.ctx.stats, this.ctx.start, kind, this.ctx.grpc);
    // The response is final; drop the rest of the body rather than leave the client blocked on it.
    if (!this.ctx.bodyless && !this.requestEnded) this.client.resume();
  }

  private count(grpcStatus: number, error: ProxyErrorKind | '' = ''): void {
    if (this.counted) return;
    this.counted = true;
    this.ctx.stats.response(this.status, grpcStatus, this.latencyMs, error);
  }
}


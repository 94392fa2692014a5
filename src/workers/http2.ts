// The HTTP/2 (h2c) and gRPC stack of one direction: a node:http2 server fed detected connections and one
// multiplexed upstream session per target. Streams map one to one; flow control, trailers and resets
// cross the proxy in both directions.
import http2 from 'node:http2';
import type net from 'node:net';
import type { HostPort } from '../config/parse.ts';
import { formatHostPort } from '../config/parse.ts';
import type { Direction, HttpStats } from '../telemetry/proxy-metrics.ts';
import {
  ERROR_RESPONSES,
  GRPC_STATUS,
  PROXY_ERROR_HEADER,
  ProxyError,
  classifyUpstreamError,
  isGrpcContentType,
  type ProxyErrorKind,
} from './errors.ts';
import { parseGrpcTimeout } from './grpc-timeout.ts';
import { httpTarget } from './routing.ts';
import type { AcceptedConnection, Runtime } from './runtime.ts';
import { connectUpstream } from './transport.ts';

const CONN = Symbol('sluice.connection');
type WithConn = { [CONN]?: AcceptedConnection };

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;
const END_STREAM = 0x1;

export class H2Proxy {
  readonly server: http2.Http2Server;
  private readonly rt: Runtime;
  private readonly direction: Direction;
  private readonly upstreams = new Map<string, http2.ClientHttp2Session>();
  private readonly downstreams = new Set<http2.ServerHttp2Session>();
  /** The connection being handed to the server; 'session' fires synchronously inside emit(). */
  private accepting: AcceptedConnection | undefined;

  constructor(rt: Runtime, direction: Direction) {
    this.rt = rt;
    this.direction = direction;
    this.server = http2.createServer();
    this.server.on('session', (session) => {
      (session as WithConn)[CONN] = this.accepting;
      this.downstreams.add(session);
      session.once('close', () => this.downstreams.delete(session));
      session.on('error', (error) => rt.log.debug('HTTP/2 client session error', { error: error.message }));
      if (rt.draining) session.close();
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

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number): void {
    const start = performance.now();
    const conn = (stream.session as WithConn | undefined)?.[CONN];
    if (conn === undefined) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const authority = headers[':authority'] ?? headers.host ?? '';
    const grpc = isGrpcContentType(headers['content-type']);
    const parsed = authority === '' ? undefined : this.rt.authorities.get(authority, 80);
    const target = httpTarget(conn, parsed, this.rt.config);
    const stats = this.rt.metrics.http(this.direction, authority, target);
    stats.request();
    stream.on('error', () => {});
    if (target === undefined) {
      this.fail(stream, stats, start, 'no_target', grpc);
      return;
    }

    let session: http2.ClientHttp2Session;
    let upstream: http2.ClientHttp2Stream;
    const bodyless = (flags & END_STREAM) !== 0;
    try {
      session = this.session(target);
      upstream = session.request(headers, { endStream: bodyless });
    } catch (error) {
      this.fail(stream, stats, start, classifyUpstreamError(error), grpc);
      return;
    }

    const timeoutMs = grpc ? parseGrpcTimeout(headers['grpc-timeout']) : this.rt.config.httpResponseTimeoutMs;
    const timer =
      timeoutMs !== undefined && timeoutMs > 0
        ? setTimeout(() => upstream.destroy(new ProxyError('response_timeout', `no response after ${timeoutMs} ms`)), timeoutMs)
        : undefined;

    let status = 0;
    let latencyMs = 0;
    let trailers: http2.IncomingHttpHeaders | undefined;
    let counted = false;
    const count = (grpcStatus: number): void => {
      if (counted) return;
      counted = true;
      stats.response(status, grpcStatus, latencyMs);
    };

    upstream.once('response', (responseHeaders, responseFlags) => {
      clearTimeout(timer);
      status = Number(responseHeaders[':status'] ?? 502);
      latencyMs = performance.now() - start;
      if (stream.destroyed) return;
      if ((responseFlags & END_STREAM) !== 0) {
        // Headers-only (for gRPC, "trailers-only"): the status, if any, is right here.
        count(grpcStatusOf(responseHeaders));
        stream.respond(responseHeaders, { endStream: true });
        return;
      }
      stream.respond(responseHeaders, { waitForTrailers: true });
      upstream.pipe(stream);
    });
    upstream.on('trailers', (received) => {
      trailers = received;
    });
    stream.on('wantTrailers', () => {
      count(trailers === undefined ? -1 : grpcStatusOf(trailers));
      stream.sendTrailers(trailers ?? {});
    });

    upstream.on('error', (error) => {
      clearTimeout(timer);
      if (status === 0) {
        this.fail(stream, stats, start, classifyUpstreamError(error), grpc);
      } else {
        count(-1);
        if (!stream.destroyed) stream.close(upstream.rstCode || NGHTTP2_INTERNAL_ERROR);
      }
    });
    upstream.once('close', () => {
      clearTimeout(timer);
      // The upstream reset a stream whose response had begun: tell the client the same way.
      if (status !== 0 && !stream.destroyed && upstream.rstCode !== NGHTTP2_NO_ERROR && !upstream.readableEnded) {
        count(-1);
        stream.close(upstream.rstCode);
      }
    });
    // The client reset or went away: cancel the upstream stream too.
    stream.once('close', () => {
      clearTimeout(timer);
      if (!upstream.destroyed && !upstream.closed) upstream.close(stream.rstCode || NGHTTP2_CANCEL);
    });

    if (!bodyless) stream.pipe(upstream);
  }

  private fail(
    stream: http2.ServerHttp2Stream,
    stats: HttpStats,
    start: number,
    kind: ProxyErrorKind,
    grpc: boolean,
  ): void {
    const { status, grpc: grpcStatus, message } = ERROR_RESPONSES[kind];
    stats.response(grpc ? 200 : status, grpc ? grpcStatus : -1, performance.now() - start, kind);
    this.rt.metrics.httpError(this.direction, kind);
    this.rt.log.info('HTTP/2 request failed', { direction: this.direction, error: kind });
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
  private session(target: HostPort): http2.ClientHttp2Session {
    const key = formatHostPort(target);
    const existing = this.upstreams.get(key);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(`http://${key}`, {
      createConnection: () => {
        const socket = connectUpstream(target, this.rt.connectTimeoutMs(this.direction));
        this.rt.tracker.track(socket, this.rt.metrics.tcp(this.direction, 'dst', target));
        return socket;
      },
    });
    const forget = (): void => {
      if (this.upstreams.get(key) === session) this.upstreams.delete(key);
    };
    session.on('error', (error) => this.rt.log.debug('HTTP/2 upstream session error', { target: key, error: error.message }));
    // After GOAWAY, streams already sent finish on this session; new ones open a fresh session.
    session.on('goaway', forget);
    session.once('close', forget);
    session.setTimeout(this.rt.config.httpPoolIdleTimeoutMs, () => {
      forget();
      session.close();
    });
    this.upstreams.set(key, session);
    return session;
  }

  /** Sends GOAWAY to every client; their in-flight streams finish, new ones go elsewhere. */
  drain(): void {
    for (const session of this.downstreams) session.close();
    for (const session of this.upstreams.values()) session.close();
    this.upstreams.clear();
  }
}

function grpcStatusOf(headers: http2.IncomingHttpHeaders): number {
  const value = headers['grpc-status'];
  if (typeof value !== 'string') return -1;
  const code = Number(value);
  return Number.isInteger(code) && code >= 0 && code <= 16 ? code : GRPC_STATUS.UNKNOWN;
}

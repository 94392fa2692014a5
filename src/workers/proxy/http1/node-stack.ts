// The HTTP/1.x stack of one direction: a node:http server fed detected connections, and a keep-alive
// pool of upstream connections. Bodies stream both ways with backpressure; nothing is buffered whole.
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { formatHostPort, type HostPort } from '../../../config/parse.ts';
import { TLS_DISABLED, serverTlsLabels, type Direction, type HttpStats } from '../../../telemetry/proxy-metrics.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import { CLIENT_ID_HEADER, directTlsLabels, upstreamTls, withClientId } from '../mesh-tls.ts';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER, ProxyError, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import { framing, headerPairs, relayInformational, stripHopByHop } from '../../http1/headers.ts';
import { connectionOf, tagConnection } from './connection-tag.ts';
import { forwardConnect, forwardUpgrade } from './tunnel.ts';
import { httpTarget, namesListener } from '../routing.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { tapDestination, tapHttp1 } from '../../tap/node-hooks.ts';
import { connectUpstream } from '../../transport/connect.ts';
import { nodeHttp } from '../builtins.ts';
import { resolveTarget } from '../resolve-target.ts';
import { reasonPhrase } from '../../http1/reason.ts';

/** Control-plane routing of one request (outbound/mesh.ts); false when it does not take it. */
export interface Http1MeshRouter {
  http1(
    stack: Http1Proxy,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    conn: AcceptedConnection,
    target: HostPort,
    path: string,
    start: number,
    fallback: () => void,
  ): boolean;
}

/** The request option naming the identity an upstream connection must verify (mesh TLS). */
export const MESH_PEER = Symbol('sluice.meshPeer');
type AgentOptions = { host: string; port: number | string; [MESH_PEER]?: PeerIdentity };

export interface Upstream {
  readonly target: HostPort;
  readonly authority: string;
  /** For absolute-form requests, the origin-form path to send upstream. */
  readonly path: string;
}

export class Http1Proxy {
  readonly server: http.Server;
  readonly agent: http.Agent;
  /** Set once at start when a controller is configured (outbound only). */
  mesh: Http1MeshRouter | undefined;
  private readonly ctx: WorkerContext;
  private readonly direction: Direction;

  constructor(ctx: WorkerContext, direction: Direction) {
    this.ctx = ctx;
    this.direction = direction;
    const http = nodeHttp();
    this.server = http.createServer({
      headersTimeout: ctx.config.httpHeaderTimeoutMs,
      // Uploads and long polls may legitimately take long; only the head has a deadline.
      requestTimeout: 0,
      // Applications pool connections to their sidecar; closing them early only invites races.
      keepAliveTimeout: 60_000,
      connectionsCheckingInterval: Math.min(1000, ctx.config.httpHeaderTimeoutMs),
    });
    // The server never listens (connections are handed to it), but Node starts its connection tracking
    // (header timeouts, closeIdleConnections) on 'listening'.
    this.server.emit('listening');
    this.server.on('request', (req, res) => this.onRequest(req, res));
    // With a listener here Node no longer answers Expect: 100-continue itself; the upstream decides.
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res));
    this.server.on('clientError', (error, socket) => this.onClientError(error, socket));
    this.server.on('upgrade', (req, socket, head) => forwardUpgrade(this.ctx, this, req, socket, head));
    this.server.on('connect', (req, socket, head) => forwardConnect(this.ctx, this, req, socket, head));

    this.agent = new http.Agent({
      keepAlive: true,
      // Idle pooled connections close after this; in-flight ones are unaffected (see Agent docs).
      timeout: ctx.config.httpPoolIdleTimeoutMs,
      // The socket idle the longest first, as the fast engine's pool (upstream-pool.ts acquire): a burst's
      // connections stay in use instead of idling out before the next burst needs them again.
      scheduling: 'fifo',
      maxFreeSockets: 1024,
    });
    // Our connect applies the connect timeout, counts the connection in transport metrics, and
    // originates mesh TLS when the request's options name a peer identity (outbound/http1-exchange.ts);
    // such connections are pooled apart from plaintext ones to the same address.
    const agent = this.agent as unknown as { createConnection: unknown; getName: (options: AgentOptions) => string };
    agent.createConnection = (options: AgentOptions) => this.connect({ host: options.host, port: Number(options.port) }, options[MESH_PEER]);
    const poolName = agent.getName.bind(agent);
    agent.getName = (options: AgentOptions) => {
      const peer = options[MESH_PEER];
      return peer === undefined ? poolName(options) : `${poolName(options)}${peer.identity}`;
    };
  }

  serve(socket: net.Socket, conn: AcceptedConnection): void {
    tagConnection(socket, conn);
    this.server.emit('connection', socket);
    socket.resume();
  }

  connect(target: HostPort, peer?: PeerIdentity): net.Socket {
    const socket = connectUpstream(target, this.ctx.connectTimeoutMs(this.direction), false, upstreamTls(this.ctx, peer));
    const tlsLabels = peer === undefined ? TLS_DISABLED : serverTlsLabels(peer.identity);
    this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', target, tlsLabels));
    return socket;
  }

  /** Where a request goes, or the reason it cannot go anywhere. */
  route(req: http.IncomingMessage, conn: AcceptedConnection): Upstream | ProxyErrorKind {
    let authority = req.headers.host ?? '';
    let path = req.url ?? '/';
    if (path.charCodeAt(0) !== 47 /* '/' */ && /^https?:\/\//i.test(path)) {
      // Absolute form (a client that thinks it talks to a forward proxy): route by it, send origin form.
      try {
        const url = new URL(path);
        authority = url.host;
        path = `${url.pathname}${url.search}`;
      } catch {
        return 'bad_request';
      }
    }
    const parsed = authority === '' ? undefined : this.ctx.authorities.get(authority, 80);
    const target = httpTarget(conn, parsed, this.ctx.config);
    return target === undefined ? 'no_target' : { target, authority, path };
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const start = performance.now();
    const conn = connectionOf(req.socket);
    if (conn === undefined) {
      res.destroy();
      return;
    }
    res.sendDate = false; // forward the upstream's Date, never invent one
    conn.authz?.countHttp();
    if (this.ctx.draining) res.shouldKeepAlive = false;
    const route = this.route(req, conn);
    if (typeof route === 'string') {
      const stats = this.ctx.metrics.http(this.direction, req.headers.host ?? '', conn.target);
      stats.request();
      this.fail(req, res, stats, start, route);
      return;
    }
    if (this.ctx.taps.active) tapHttp1(this.ctx, this.direction, req, res, route.authority, route.path, route.target);
    // Destinations the control plane knows are balanced over their endpoints (mesh.ts); others go on here.
    if (this.mesh?.http1(this, req, res, conn, route.target, route.path, start, () => this.resolve(req, res, conn, route, start))) return;
    this.resolve(req, res, conn, route, start);
  }

  private resolve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    conn: AcceptedConnection,
    route: Upstream,
    start: number,
  ): void {
    this.resolveTarget(conn, route.target, (target) => {
      if (target !== undefined) {
        this.forward(req, res, route, target, start);
        return;
      }
      const stats = this.ctx.metrics.http(this.direction, req.headers.host ?? '', route.target);
      stats.request();
      this.fail(req, res, stats, start, 'dns_not_found');
    });
  }

  /** Where a name goes (resolve-target.ts). */
  resolveTarget(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void {
    resolveTarget(this.ctx, conn, target, done);
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Upstream,
    target: HostPort,
    start: number,
  ): void {
    // The client may have left while its authority was being resolved.
    if (res.destroyed || req.destroyed) return;
    const conn = connectionOf(req.socket);
    const stats = this.ctx.metrics.http(this.direction, req.headers.host ?? '', target, '', conn === undefined ? TLS_DISABLED : directTlsLabels(this.ctx, conn));
    stats.request();
    if (this.ctx.taps.active) tapDestination(res, target);
    const raw = req.rawHeaders;
    let headers = stripHopByHop(raw);
    if (this.direction === 'inbound' && (conn?.clientId !== undefined || req.headers[CLIENT_ID_HEADER] !== undefined)) {
      headers = withClientId(headers, conn?.clientId);
    }
    const { chunked, contentLength } = framing(raw);
    // Node only chunk-encodes bodies of methods that usually carry one; say so for the others.
    if (chunked) headers.push('Transfer-Encoding', 'chunked');
    // HTTP/1.1 requires Host; an HTTP/1.0 client may have sent none.
    if (req.headers.host === undefined) headers.push('Host', formatHostPort(route.target));
    const upstream = nodeHttp().request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: route.path,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      agent: this.agent,
      setHost: false,
    });

    const timeoutMs = this.ctx.config.httpResponseTimeoutMs;
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () => upstream.destroy(new ProxyError('response_timeout', `no response after ${timeoutMs} ms`)),
            timeoutMs,
          )
        : undefined;

    upstream.on('information', (info) => relayInformational(res, info));

    upstream.once('response', (up) => {
      clearTimeout(timer);
      stats.response(up.statusCode ?? 502, -1, performance.now() - start);
      if (this.ctx.draining) res.shouldKeepAlive = false;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, stripHopByHop(up.rawHeaders));
      forwardBody(up, res, () => {
        if (up.rawTrailers.length > 0) res.addTrailers(headerPairs(up.rawTrailers));
      });
    });

    upstream.once('error', (error) => {
      clearTimeout(timer);
      // Our own cancellation after the client left: nobody is waiting, and it is no upstream failure.
      if (clientGone) return;
      if (res.headersSent) {
        // The response is already on its way: the only honest signal left in HTTP/1 is to cut it.
        res.destroy();
        return;
      }
      const kind = classifyUpstreamError(error);
      this.ctx.log.info('HTTP request failed', {
        direction: this.direction,
        authority: route.authority,
        target: formatHostPort(target),
        error: error.message,
      });
      this.fail(req, res, stats, start, kind);
    });

    // A client that goes away takes its upstream request with it (the pooled socket is discarded).
    let clientGone = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });

    if (contentLength === 0 || (contentLength === undefined && !chunked)) {
      upstream.end();
      req.resume();
    } else {
      forwardBody(req, upstream, undefined);
    }
  }

  /** Answers with a proxy-synthesized error and counts it. */
  fail(req: http.IncomingMessage, res: http.ServerResponse, stats: HttpStats, start: number, kind: ProxyErrorKind): void {
    const { status, message } = ERROR_RESPONSES[kind];
    if (!req.complete) {
      // The rest of the body has nowhere to go: discard it, and close once answered. A socket left
      // paused by backpressure from the failed upstream would otherwise never see the client leave.
      req.unpipe();
      req.resume();
      res.shouldKeepAlive = false;
    }
    stats.response(status, -1, performance.now() - start, kind);
    this.ctx.metrics.httpError(this.direction, kind);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = `${message}\n`;
    res.writeHead(status, {
      [PROXY_ERROR_HEADER]: message,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  private onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    const kind: ProxyErrorKind =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers_too_large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'header_timeout'
          : 'bad_request';
    this.ctx.metrics.httpError(this.direction, kind);
    this.ctx.log.debug('rejecting malformed request', { direction: this.direction, error: error.code ?? error.message });
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const { status, message } = ERROR_RESPONSES[kind];
    const body = `${message}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n` +
        `${PROXY_ERROR_HEADER}: ${message}\r\n` +
        `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
    // Give the client a moment to read the answer before the connection goes (a reset would discard it).
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Stops keeping connections alive: idle ones close now, busy ones after their current response. */
  drain(): void {
    this.server.closeIdleConnections();
    // Upstream connections: close the idle ones, and each busy one as soon as it is released.
    this.agent.keepSocketAlive = () => false;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }
}

/**
 * Pipes a body with backpressure; `beforeEnd` runs once the source has ended, before the sink is ended
 * (trailers go there). An error on either side destroys the other, so no half-dead exchange lingers.
 */
function forwardBody(src: http.IncomingMessage, dst: http.ServerResponse | http.ClientRequest, beforeEnd: (() => void) | undefined): void {
  src.pipe(dst, { end: false });
  src.once('end', () => {
    beforeEnd?.();
    dst.end();
  });
  src.once('error', () => dst.destroy());
  // 'aborted'-style endings: the source closed without a complete body.
  src.once('close', () => {
    if (!src.complete) dst.destroy();
  });
}

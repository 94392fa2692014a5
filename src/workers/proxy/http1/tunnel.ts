// HTTP/1.1 exchanges that end as byte tunnels: `Upgrade` (WebSocket, h2c) and `CONNECT`.
// The handshake is forwarded like any request; once the upstream agrees, both sockets are spliced.
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { HostPort } from '../../../config/parse.ts';
import type { HttpStats } from '../../../telemetry/proxy-metrics.ts';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { connectionOf } from './connection-tag.ts';
import { stripHopByHop, withoutField } from '../../http1/headers.ts';
import { directTlsLabels, withClientId } from '../mesh-tls.ts';
import { parseAuthority } from '../routing.ts';
import { splice } from '../../transport/splice.ts';
import { nodeHttp } from '../builtins.ts';
import { reasonPhrase } from '../../http1/reason.ts';

/** What a tunnel needs from its HTTP/1 stack (node-stack.ts): the request's route and a connection. */
export interface TunnelStack {
  route(req: http.IncomingMessage, conn: AcceptedConnection): { readonly target: HostPort; readonly path: string } | ProxyErrorKind;
  resolveTarget(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void;
  connect(target: HostPort): net.Socket;
}

function head(status: number, message: string | undefined, raw: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${message ?? reasonPhrase(status)}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return text + '\r\n';
}

/** Counts a proxy-synthesized failure and answers it on the raw socket, then closes. */
function failRaw(socket: Duplex, stats: HttpStats, start: number, kind: ProxyErrorKind): void {
  const { status, message } = ERROR_RESPONSES[kind];
  stats.response(status, -1, performance.now() - start, kind);
  const body = `${message}\n`;
  const raw = [PROXY_ERROR_HEADER, message, 'content-type', 'text/plain; charset=utf-8'];
  raw.push('content-length', String(Buffer.byteLength(body)), 'connection', 'close');
  if (socket.writable) socket.end(head(status, undefined, raw) + body);
  else socket.destroy();
  closeSoon(socket);
}

/**
 * After our last byte, read and discard until the client closes, but no longer than a second. A socket
 * taken over from the HTTP server is paused, and paused it would never see the client's FIN.
 */
function closeSoon(socket: Duplex): void {
  socket.resume();
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** The accepted connection a tunnel request arrived on, its socket destroyed on error; undefined (and the socket gone) when unknown. */
function tunnelConnection(socket: Duplex): ReturnType<typeof connectionOf> {
  const conn = connectionOf(socket);
  if (conn === undefined) {
    socket.destroy();
    return undefined;
  }
  socket.on('error', () => socket.destroy());
  return conn;
}

/** `Upgrade:` requests: forwarded with their upgrade headers; on 101 the connection becomes a tunnel. */
export function forwardUpgrade(
  ctx: WorkerContext,
  proxy: TunnelStack,
  req: http.IncomingMessage,
  socket: Duplex,
  clientHead: Buffer,
): void {
  const start = performance.now();
  const conn = tunnelConnection(socket);
  if (conn === undefined) return;
  const route = proxy.route(req, conn);
  const stats = ctx.metrics.http(conn.direction, req.headers.host ?? '', typeof route === 'string' ? conn.target : route.target, '', directTlsLabels(ctx, conn));
  stats.request();
  if (typeof route === 'string') {
    failRaw(socket, stats, start, route);
    return;
  }
  proxy.resolveTarget(conn, route.target, (target) => {
    if (target === undefined) {
      failRaw(socket, stats, start, 'dns_not_found');
      return;
    }
    sendUpgrade(proxy, req, socket, clientHead, stats, start, route.path, target);
  });
}

function sendUpgrade(
  proxy: TunnelStack,
  req: http.IncomingMessage,
  socket: Duplex,
  clientHead: Buffer,
  stats: HttpStats,
  start: number,
  path: string,
  target: HostPort,
): void {
  if (socket.destroyed) return; // the client left while its authority was being resolved
  const conn = connectionOf(socket);
  const upstream = nodeHttp().request({
    host: target.host,
    port: target.port,
    method: req.method,
    path,
    headers: (conn?.direction === 'inbound' ? withClientId(stripHopByHop(req.rawHeaders, true), conn.clientId) : stripHopByHop(req.rawHeaders, true)) as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    createConnection: () => proxy.connect(target),
  });
  upstream.once('upgrade', (res, upSocket, upHead) => {
    stats.response(101, -1, performance.now() - start);
    socket.write(head(101, res.statusMessage, res.rawHeaders));
    if (upHead.length > 0) socket.write(upHead);
    if (clientHead.length > 0) upSocket.write(clientHead);
    splice(socket as net.Socket, upSocket as net.Socket);
  });
  upstream.once('response', (res) => {
    // The upstream declined the upgrade: relay its answer, then close (the body ends with the connection).
    stats.response(res.statusCode ?? 502, -1, performance.now() - start);
    const raw = withoutField(stripHopByHop(res.rawHeaders), 'content-length');
    socket.write(head(res.statusCode ?? 502, res.statusMessage, [...raw, 'connection', 'close']));
    res.pipe(socket);
    res.once('end', () => closeSoon(socket));
    res.once('error', () => socket.destroy());
  });
  upstream.once('error', (error) => {
    const kind = classifyUpstreamError(error);
    failRaw(socket, stats, start, kind);
  });
  socket.once('close', () => upstream.destroy());
  upstream.end();
}

/**
 * `CONNECT host:port`. When the connection has a destination of its own (the app was talking to a
 * forward proxy), the CONNECT is passed on to it unchanged; otherwise the proxy opens the tunnel itself.
 */
export function forwardConnect(
  ctx: WorkerContext,
  proxy: TunnelStack,
  req: http.IncomingMessage,
  socket: Duplex,
  clientHead: Buffer,
): void {
  const start = performance.now();
  const conn = tunnelConnection(socket);
  if (conn === undefined) return;
  const authority = req.url ?? '';
  const stats = ctx.metrics.http(conn.direction, authority, conn.target);
  stats.request();

  if (conn.target === undefined) {
    const target = parseAuthority(authority, 443);
    if (target === undefined) {
      failRaw(socket, stats, start, 'bad_request');
      return;
    }
    const upSocket = proxy.connect(target);
    upSocket.once('connect', () => {
      stats.response(200, -1, performance.now() - start);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (clientHead.length > 0) upSocket.write(clientHead);
      splice(socket as net.Socket, upSocket);
    });
    upSocket.once('error', (error) => {
      if (upSocket.connecting || !upSocket.readable) {
        const kind = classifyUpstreamError(error);
        failRaw(socket, stats, start, kind);
      }
    });
    return;
  }

  const target = conn.target;
  const upstream = nodeHttp().request({
    host: target.host,
    port: target.port,
    method: 'CONNECT',
    path: authority,
    headers: stripHopByHop(req.rawHeaders) as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    createConnection: () => proxy.connect(target),
  });
  upstream.once('connect', (res, upSocket, upHead) => {
    stats.response(res.statusCode ?? 502, -1, performance.now() - start);
    socket.write(head(res.statusCode ?? 502, res.statusMessage, res.rawHeaders));
    if (upHead.length > 0) socket.write(upHead);
    if (clientHead.length > 0) upSocket.write(clientHead);
    splice(socket as net.Socket, upSocket as net.Socket);
  });
  upstream.once('error', (error) => {
    const kind = classifyUpstreamError(error);
    failRaw(socket, stats, start, kind);
  });
  socket.once('close', () => upstream.destroy());
  upstream.end();
}

// One accepted connection: detect its protocol from the first bytes, then hand it to the matching stack.
import type net from 'node:net';
import { DETECT_MAX_BYTES, detectProtocol, type Detected } from '../../protocol-detect/detect.ts';
import { connectionTarget, type ConnectionInfo } from './routing.ts';
import type { AcceptedConnection, Runtime } from './context.ts';
import { serveHttp1Fast } from './http1/fast-engine.ts';
import { forwardTcp } from './tcp/forward.ts';

type Decision = Exclude<Detected, { kind: 'need-more' }> | { kind: 'opaque'; reason: 'read_timeout' | 'opaque_port' | 'eof' };

export function serveConnection(rt: Runtime, socket: net.Socket, info: ConnectionInfo): void {
  const conn: AcceptedConnection = {
    ...info,
    peer: `${socket.remoteAddress}:${socket.remotePort}`,
    target: connectionTarget(info, rt.config),
  };
  rt.tracker.track(socket, rt.metrics.tcp(conn.direction, 'src', conn.target));
  socket.setNoDelay(true);
  socket.on('error', (error) => rt.log.debug('client connection error', { peer: conn.peer, error: error.message }));

  // Server-speaks-first protocols on known ports: waiting for the client would only add the detect timeout.
  if (conn.direction === 'inbound' && conn.target !== undefined && rt.config.opaquePorts.has(conn.target.port)) {
    dispatch(rt, socket, conn, { kind: 'opaque', reason: 'opaque_port' }, undefined);
    return;
  }

  let buffered: Buffer | undefined;
  const finish = (decision: Decision): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    dispatch(rt, socket, conn, decision, buffered);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    const detected = detectProtocol(buffered);
    if (detected.kind !== 'need-more') finish(detected);
    else if (buffered.length >= DETECT_MAX_BYTES) finish({ kind: 'opaque', reason: 'not_http' });
  };
  // The client shut its write side before we could tell: forward what it sent as opaque bytes.
  const onEnd = (): void => finish({ kind: 'opaque', reason: 'eof' });
  const timer = setTimeout(() => finish({ kind: 'opaque', reason: 'read_timeout' }), rt.config.detectTimeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  // Accepted sockets arrive paused (nothing may be read before hand-off); a 'data' listener alone
  // does not restart a stream that was paused explicitly.
  socket.resume();
}

function dispatch(
  rt: Runtime,
  socket: net.Socket,
  conn: AcceptedConnection,
  decision: Decision,
  buffered: Buffer | undefined,
): void {
  const ended = socket.readableEnded;
  if (!ended) {
    socket.pause();
    if (buffered !== undefined) socket.unshift(buffered);
  }
  switch (decision.kind) {
    case 'http1':
      rt.metrics.detected(conn.direction, 'http1', '');
      if (rt.config.http1Engine === 'fast' && !ended) serveHttp1Fast(rt, socket, conn);
      else rt.http1(conn.direction).serve(socket, conn);
      return;
    case 'h2':
      rt.metrics.detected(conn.direction, 'h2', '');
      rt.h2(conn.direction).serve(socket, conn);
      return;
    case 'tls':
      // TLS not addressed to the mesh passes through untouched; we only note who it was for.
      rt.metrics.detected(conn.direction, 'tls', 'passthrough');
      rt.metrics.tlsPassthrough(conn.direction, decision.sni ?? '');
      forwardTcp(rt, socket, conn, ended ? buffered : undefined);
      return;
    case 'opaque':
      rt.metrics.detected(conn.direction, 'opaque', decision.reason);
      forwardTcp(rt, socket, conn, ended ? buffered : undefined);
      return;
    default:
      decision satisfies never;
  }
}

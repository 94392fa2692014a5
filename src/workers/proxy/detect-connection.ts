// One accepted connection: track it, read its first bytes until the protocol is known (or the detect
// timeout runs out), put the bytes back, and hand the connection on. Which stack takes it is the
// caller's business (stacks.ts); detection itself is pure (src/protocol-detect).
import type net from 'node:net';
import { DETECT_MAX_BYTES, detectProtocol, type Detected } from '../../protocol-detect/detect.ts';
import { connectionTarget, type ConnectionInfo } from './routing.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';

export type Decision = Exclude<Detected, { kind: 'need-more' }> | { kind: 'opaque'; reason: 'read_timeout' | 'opaque_port' | 'eof' };

/**
 * Receives a detected connection: paused, with the bytes read for detection put back — unless the
 * client already ended its side, when `prefix` holds them (they cannot be unshifted onto an ended stream).
 */
export type OnDetected = (socket: net.Socket, conn: AcceptedConnection, decision: Decision, prefix: Buffer | undefined) => void;

export function detectConnection(ctx: WorkerContext, socket: net.Socket, info: ConnectionInfo, detected: OnDetected): void {
  const conn: AcceptedConnection = {
    ...info,
    peer: `${socket.remoteAddress}:${socket.remotePort}`,
    target: connectionTarget(info, ctx.config),
  };
  ctx.tracker.track(socket, ctx.metrics.tcp(conn.direction, 'src', conn.target));
  socket.setNoDelay(true);
  socket.on('error', (error) => ctx.log.debug('client connection error', { peer: conn.peer, error: error.message }));

  // Server-speaks-first protocols on known ports: waiting for the client would only add the detect timeout.
  if (conn.direction === 'inbound' && conn.target !== undefined && ctx.config.opaquePorts.has(conn.target.port)) {
    handOn(socket, conn, { kind: 'opaque', reason: 'opaque_port' }, undefined, detected);
    return;
  }

  let buffered: Buffer | undefined;
  const finish = (decision: Decision): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    handOn(socket, conn, decision, buffered, detected);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    const detected = detectProtocol(buffered);
    if (detected.kind !== 'need-more') finish(detected);
    else if (buffered.length >= DETECT_MAX_BYTES) finish({ kind: 'opaque', reason: 'not_http' });
  };
  // The client shut its write side before we could tell: forward what it sent as opaque bytes.
  const onEnd = (): void => finish({ kind: 'opaque', reason: 'eof' });
  const timer = setTimeout(() => finish({ kind: 'opaque', reason: 'read_timeout' }), ctx.config.detectTimeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  // Accepted sockets arrive paused (nothing may be read before hand-off); a 'data' listener alone
  // does not restart a stream that was paused explicitly.
  socket.resume();
}

function handOn(socket: net.Socket, conn: AcceptedConnection, decision: Decision, buffered: Buffer | undefined, detected: OnDetected): void {
  const ended = socket.readableEnded;
  if (!ended) {
    socket.pause();
    if (buffered !== undefined) socket.unshift(buffered);
  }
  detected(socket, conn, decision, ended ? buffered : undefined);
}

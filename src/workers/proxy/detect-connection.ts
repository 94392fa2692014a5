// One accepted connection: track it, read its first bytes until the protocol is known (or the detect
// timeout runs out), put the bytes back, and hand the connection on. Which stack takes it is the
// caller's business (stacks.ts); detection itself is pure (src/protocol-detect). The stream inside a
// mesh TLS connection the proxy terminated is detected again, once decrypted (detectDecrypted).
import type net from 'node:net';
import { DETECT_MAX_BYTES, detectProtocol, type Detected } from '../../protocol-detect/detect.ts';
import { TLS_DISABLED, TLS_LOOPBACK, TLS_NOT_FROM_REMOTE } from '../../telemetry/proxy-metrics.ts';
import { connectionTarget, type ConnectionInfo } from './routing.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import { opaquePortHandling } from './inbound/opaque-ports.ts';

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
    meshTls: false,
    clientId: undefined,
    tlsLabels: acceptedTlsLabels(ctx, info.direction),
  };
  // With an identity, an inbound connection's labels are known only once it is seen to be mesh TLS or not.
  const provisional = conn.direction === 'inbound' && ctx.identity !== undefined;
  ctx.tracker.track(socket, ctx.metrics.tcp(conn.direction, 'src', conn.target, conn.tlsLabels), provisional);
  socket.setNoDelay(true);
  socket.on('error', (error) => ctx.log.debug('client connection error', { peer: conn.peer, error: error.message }));

  const opaque = opaquePortHandling(ctx, conn);
  if (opaque === 'opaque') handOn(socket, conn, OPAQUE_PORT, undefined, detected);
  else readFirstBytes(ctx, socket, conn, opaque === 'tls-or-opaque', detected);
}

/**
 * The decrypted stream of a connection whose mesh TLS the proxy terminated: detected as any connection
 * is (HTTP/1, HTTP/2, opaque...), already tracked through the connection it runs over.
 */
export function detectDecrypted(ctx: WorkerContext, socket: net.Socket, conn: AcceptedConnection, detected: OnDetected): void {
  readFirstBytes(ctx, socket, conn, false, detected);
}

const OPAQUE_PORT: Decision = { kind: 'opaque', reason: 'opaque_port' };
const TLS_RECORD = 22;

/** The `tls` labels of an accepted connection, before any TLS is known of (proxy-metrics.ts). */
function acceptedTlsLabels(ctx: WorkerContext, direction: AcceptedConnection['direction']): string {
  if (ctx.identity === undefined) return TLS_DISABLED;
  return direction === 'inbound' ? TLS_NOT_FROM_REMOTE : TLS_LOOPBACK;
}

/** Reads until the protocol is known; `tlsOnly` (an opaque port) decides anything but TLS as opaque at once. */
function readFirstBytes(ctx: WorkerContext, socket: net.Socket, conn: AcceptedConnection, tlsOnly: boolean, detected: OnDetected): void {
  let buffered: Buffer | undefined;
  const finish = (decision: Decision): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    handOn(socket, conn, decision, buffered, detected);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    if (tlsOnly && buffered[0] !== TLS_RECORD) return finish(OPAQUE_PORT);
    const detected = detectProtocol(buffered);
    if (detected.kind === 'need-more') {
      if (buffered.length >= DETECT_MAX_BYTES) finish({ kind: 'opaque', reason: 'not_http' });
    } else {
      finish(tlsOnly && detected.kind !== 'tls' ? OPAQUE_PORT : detected);
    }
  };
  // The client shut its write side before we could tell: forward what it sent as opaque bytes.
  const onEnd = (): void => finish(tlsOnly ? OPAQUE_PORT : { kind: 'opaque', reason: 'eof' });
  const timer = setTimeout(() => finish(tlsOnly ? OPAQUE_PORT : { kind: 'opaque', reason: 'read_timeout' }), ctx.config.detectTimeoutMs);
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

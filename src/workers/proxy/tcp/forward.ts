// Opaque TCP: bytes both ways with backpressure and half-close, nothing parsed.
import type net from 'node:net';
import type { Runtime, AcceptedConnection } from '../context.ts';
import { connectUpstream } from '../../transport/connect.ts';

/**
 * Joins two sockets. Each direction is piped with backpressure; a FIN from one side becomes a FIN to the
 * other (half-close), so request/response protocols that shut down their write side keep working. An
 * error or an abrupt close on either side resets the other: nothing is left half-alive.
 */
export function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const onClose = (closed: net.Socket, other: net.Socket) => (hadError: boolean) => {
    if (other.destroyed) return;
    if (hadError) other.resetAndDestroy();
    else if (!closed.readableEnded) other.destroy();
  };
  a.on('error', noop);
  b.on('error', noop);
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}

function noop(): void {}

/**
 * Forwards a connection to its target as opaque bytes. `prefix` holds bytes already read from a client
 * that has since shut its write side (they cannot be unshifted back onto an ended stream).
 */
export function forwardTcp(rt: Runtime, client: net.Socket, conn: AcceptedConnection, prefix?: Buffer, viaMesh = true): void {
  // Destinations the control plane knows are balanced per connection (mesh.ts); others go on here.
  if (viaMesh && rt.mesh?.tcp(client, conn, prefix, () => forwardTcp(rt, client, conn, prefix, false))) return;
  const target = conn.target;
  if (target === undefined) {
    rt.log.warn('no destination for TCP connection; closing', { direction: conn.direction, peer: conn.peer });
    client.destroy();
    return;
  }
  const upstream = connectUpstream(target, rt.connectTimeoutMs(conn.direction), true);
  rt.tracker.track(upstream, rt.metrics.tcp(conn.direction, 'dst', target));
  let connected = false;
  upstream.once('connect', () => (connected = true));
  upstream.once('error', (error) => {
    if (!connected) {
      rt.log.info('TCP connect failed', { direction: conn.direction, target: `${target.host}:${target.port}`, error: error.message });
    }
  });
  if (prefix !== undefined) upstream.write(prefix);
  splice(client, upstream);
  if (client.readableEnded) upstream.end();
  else client.resume();
}

// Opaque TCP: bytes both ways with backpressure and half-close, nothing parsed.
import type net from 'node:net';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { connectUpstream } from '../../transport/connect.ts';
import { splice } from '../../transport/splice.ts';

/** Control-plane routing of a connection (outbound/mesh.ts); false when it does not take it. */
export interface TcpMeshRouter {
  tcp(client: net.Socket, conn: AcceptedConnection, prefix: Buffer | undefined, fallback: () => void): boolean;
}

/**
 * Forwards a connection to its target as opaque bytes. `prefix` holds bytes already read from a client
 * that has since shut its write side (they cannot be unshifted back onto an ended stream).
 */
export function forwardTcp(
  ctx: WorkerContext,
  mesh: TcpMeshRouter | undefined,
  client: net.Socket,
  conn: AcceptedConnection,
  prefix?: Buffer,
): void {
  // Destinations the control plane knows are balanced per connection; others go on here.
  if (mesh?.tcp(client, conn, prefix, () => forwardTcp(ctx, undefined, client, conn, prefix))) return;
  const target = conn.target;
  if (target === undefined) {
    ctx.log.warn('no destination for TCP connection; closing', { direction: conn.direction, peer: conn.peer });
    client.destroy();
    return;
  }
  const upstream = connectUpstream(target, ctx.connectTimeoutMs(conn.direction), true);
  ctx.tracker.track(upstream, ctx.metrics.tcp(conn.direction, 'dst', target));
  let connected = false;
  upstream.once('connect', () => (connected = true));
  upstream.once('error', (error) => {
    if (!connected) {
      ctx.log.info('TCP connect failed', { direction: conn.direction, target: `${target.host}:${target.port}`, error: error.message });
    }
  });
  if (prefix !== undefined) upstream.write(prefix);
  splice(client, upstream);
  if (client.readableEnded) upstream.end();
  else client.resume();
}

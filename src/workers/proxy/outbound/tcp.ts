// An outbound TCP connection to a destination the Destination service resolved: one endpoint chosen per
// connection by P2C over peak-EWMA, where the latency is the connect time and every open connection
// counts as load (so long-lived connections spread out), then bytes both ways as in tcp-forward.ts. A
// connection that cannot be made (or whose mesh TLS handshake fails) counts against the endpoint's
// failure accrual. To an endpoint with a mesh identity the bytes travel inside mutual TLS.
import type net from 'node:net';
import type { Destination } from '../../discovery/destination-cache.ts';
import { ERROR_RESPONSES } from '../../../core/errors.ts';
import type { MeshContext } from './mesh-context.ts';
import type { AcceptedConnection } from '../context.ts';
import { splice } from '../../transport/splice.ts';
import { connectUpstream, readyEvent } from '../../transport/connect.ts';
import { endpointTlsLabels, peerOf, upstreamTls } from '../mesh-tls.ts';

export function forwardMeshTcp(mesh: MeshContext, dest: Destination, client: net.Socket, conn: AcceptedConnection, prefix: Buffer | undefined): void {
  const { ctx } = mesh;
  if (client.destroyed) return;
  const pick = dest.endpoints.pick();
  if (typeof pick === 'string') {
    ctx.log.info('no endpoint for TCP connection; closing', {
      direction: conn.direction,
      peer: conn.peer,
      authority: dest.authority,
      error: ERROR_RESPONSES[pick].message,
    });
    client.resetAndDestroy();
    return;
  }
  const endpoint = pick;
  endpoint.dispatched();
  dest.active++;
  const started = performance.now();
  const upstream = connectUpstream(endpoint.addr, ctx.connectTimeoutMs(conn.direction), true, upstreamTls(ctx, peerOf(ctx, endpoint)));
  ctx.tracker.track(upstream, ctx.metrics.tcp(conn.direction, 'dst', endpoint.addr, endpointTlsLabels(ctx, endpoint), endpoint.dstLabels));
  let settled = false;
  const settle = (failed: boolean): void => {
    if (settled) return;
    settled = true;
    endpoint.connected(performance.now() - started);
    endpoint.outcome(failed);
  };
  upstream.once(readyEvent(upstream), () => settle(false));
  upstream.once('error', (error) => {
    if (settled) return;
    settle(true);
    ctx.log.info('TCP connect failed', { direction: conn.direction, authority: dest.authority, endpoint: endpoint.key, error: error.message });
  });
  upstream.once('close', () => {
    settle(true);
    endpoint.closed();
    dest.active--;
    dest.lastUsed = mesh.cache.now();
  });
  if (prefix !== undefined) upstream.write(prefix);
  splice(client, upstream);
  if (client.readableEnded) upstream.end();
  else client.resume();
}

// Whether an outbound connection to an endpoint goes in mesh TLS, and how its metrics are labelled:
// it does when the Destination service gave the endpoint an identity and the proxy holds one of its
// own (whose credentials load). Asked per attempt, so both answers allocate nothing.
import { TLS_DISABLED, TLS_NOT_DISCOVERED } from '../../telemetry/proxy-metrics.ts';
import type { Endpoint } from '../balance/endpoints.ts';
import type { PeerIdentity } from '../tls/mesh-credentials.ts';
import type { UpstreamTls } from '../transport/connect.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';

/** The identity a connection to `endpoint` must verify; undefined for plaintext. */
export function peerOf(ctx: WorkerContext, endpoint: Endpoint | undefined): PeerIdentity | undefined {
  const peer = endpoint?.tlsIdentity;
  return peer === undefined || ctx.meshCredentials() === undefined ? undefined : peer;
}

/** What connectUpstream needs to originate mesh TLS to `peer` (undefined: plain TCP). */
export function upstreamTls(ctx: WorkerContext, peer: PeerIdentity | undefined): UpstreamTls | undefined {
  if (peer === undefined) return undefined;
  const credentials = ctx.meshCredentials();
  return credentials === undefined ? undefined : { credentials, peer };
}

/** The outbound `tls` labels of a request or connection to `endpoint` (undefined: a direct address). */
export function endpointTlsLabels(ctx: WorkerContext, endpoint: Endpoint | undefined): string {
  if (ctx.identity === undefined || ctx.meshCredentials() === undefined) return TLS_DISABLED;
  return endpoint?.tlsLabels ?? TLS_NOT_DISCOVERED;
}

/**
 * The peer's TLS labels for tap events (tap/match.ts): inbound the client's (`client_id` when verified),
 * outbound the endpoint's (`server_id`). Only built for requests a tap selected.
 */
export function tapTls(ctx: WorkerContext, conn: AcceptedConnection, endpoint: Endpoint | undefined): Record<string, string> {
  const none = { tls: ctx.identity === undefined ? 'disabled' : 'no_identity' };
  if (conn.direction === 'inbound') {
    if (!conn.meshTls) return none;
    return conn.clientId === undefined ? { tls: 'true' } : { tls: 'true', client_id: conn.clientId };
  }
  const peer = peerOf(ctx, endpoint);
  return peer === undefined ? none : { tls: 'true', server_id: peer.identity };
}

/** The `tls` labels of a request not sent to a discovered endpoint: the client's inbound, none outbound. */
export function directTlsLabels(ctx: WorkerContext, conn: AcceptedConnection): string {
  return conn.direction === 'inbound' ? conn.tlsLabels : endpointTlsLabels(ctx, undefined);
}

/**
 * The header inbound requests carry to the application with the caller's verified identity (Linkerd's
 * `l5d-client-id`). Whatever a client sent under this name is dropped first, so it cannot be forged.
 */
export const CLIENT_ID_HEADER = 'sluice-client-id';

/** `name, value` pairs (node:http raw form) without any client-sent CLIENT_ID_HEADER, then the verified one. */
export function withClientId(pairs: string[], clientId: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i] as string;
    if (name.length === CLIENT_ID_HEADER.length && name.toLowerCase() === CLIENT_ID_HEADER) continue;
    out.push(name, pairs[i + 1] as string);
  }
  if (clientId !== undefined) out.push(CLIENT_ID_HEADER, clientId);
  return out;
}

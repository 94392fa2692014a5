// Inbound connections to the ports configured opaque (server-speaks-first protocols: SMTP, MySQL,
// Postgres, Redis… see docs/configuration.md): waiting for the client to speak first would only add the
// detect timeout. Without an identity they are forwarded at once. With one, meshed clients reach these
// ports in mesh TLS too, and a TLS client speaks first: only a ClientHello is waited for, anything else is
// opaque at once (so unmeshed server-speaks-first clients of such ports should skip the proxy, as with
// Linkerd's skip-inbound-ports).
import type { AcceptedConnection, WorkerContext } from '../context.ts';

export type OpaquePortHandling = 'detect' | 'opaque' | 'tls-or-opaque';

export function opaquePortHandling(ctx: WorkerContext, conn: AcceptedConnection): OpaquePortHandling {
  if (conn.direction !== 'inbound' || conn.target === undefined || !ctx.config.opaquePorts.has(conn.target.port)) return 'detect';
  return ctx.identity === undefined ? 'opaque' : 'tls-or-opaque';
}

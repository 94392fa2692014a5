// Inbound mesh TLS: a connection whose ClientHello asked for this proxy's own identity is terminated
// here (mesh-credentials.ts runs the handshake and verifies the client's certificate), and what it
// carries is handed on as a connection of its own, with the client's verified identity (or none: an
// unauthenticated client, let in until authorization policy says otherwise). A handshake that fails —
// a certificate that does not verify, a timeout, garbage — closes the connection: nothing reaches the app.
import type net from 'node:net';
import { clientTlsLabels } from '../../../telemetry/proxy-metrics.ts';
import type { MeshCredentials } from '../../tls/mesh-credentials.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';

export type OnDecrypted = (socket: net.Socket, conn: AcceptedConnection) => void;

/** `socket` is the accepted connection (tracked provisionally); its transport metrics move to the client's labels. */
export function terminateMeshTls(ctx: WorkerContext, credentials: MeshCredentials, socket: net.Socket, conn: AcceptedConnection, decrypted: OnDecrypted): void {
  credentials.terminate(socket).then(
    ({ socket: secure, clientId }) => {
      const inner: AcceptedConnection = { ...conn, meshTls: true, clientId, tlsLabels: clientTlsLabels(clientId) };
      ctx.tracker.relabel(socket, ctx.metrics.tcp(conn.direction, 'src', conn.target, inner.tlsLabels));
      secure.on('error', (error) => ctx.log.debug('mesh TLS connection error', { peer: conn.peer, error: error.message }));
      if (clientId === undefined) ctx.log.debug('mesh TLS client presented no certificate: unauthenticated', { peer: conn.peer });
      ctx.metrics.detected(conn.direction, 'tls', clientId === undefined ? 'mesh_unauthenticated' : 'mesh');
      decrypted(secure, inner);
    },
    (error: Error & { code?: string }) => {
      ctx.metrics.detected(conn.direction, 'tls', 'mesh_handshake_failed');
      ctx.log.info('mesh TLS handshake with client failed; closing', { peer: conn.peer, error: error.message, code: error.code });
      socket.destroy();
    },
  );
}

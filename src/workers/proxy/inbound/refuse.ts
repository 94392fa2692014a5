// What a client the inbound policy does not authorize gets, per protocol, rendered by the protocol's one
// error-answer module: HTTP/1 a 403 with `sluice-proxy-error` and the connection closed; HTTP/2 a 403 on
// every stream, gRPC a trailers-only PERMISSION_DENIED (refuse-h2.ts, loaded with the first such client);
// anything else (opaque TCP, TLS not addressed to the mesh) the connection closed. Nothing reaches the app.
import type net from 'node:net';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import type { Decision } from '../detect-connection.ts';
import { errorResponseBytes } from '../http1/error-response.ts';
import type { Verdict } from './authorizer.ts';

/** How long a refused HTTP/1 client may take to read the 403 and close before it is cut off. */
const LINGER_MS = 2_000;

export function refuse(ctx: WorkerContext, socket: net.Socket, conn: AcceptedConnection, decision: Decision, verdict: Verdict): void {
  ctx.log.debug('inbound connection not authorized', { peer: conn.peer, port: conn.target?.port, clientId: conn.clientId, server: verdict.policy.server.name });
  switch (decision.kind) {
    case 'http1':
      verdict.countHttp();
      refuseHttp1(socket);
      return;
    case 'h2':
      void import('./refuse-h2.ts').then(({ refuseH2 }) => {
        if (!socket.destroyed) refuseH2(socket, verdict);
      });
      return;
    case 'tls':
    case 'opaque':
      verdict.countTcp();
      socket.destroy();
      return;
    default:
      decision satisfies never;
  }
}

/**
 * The 403, then our side closed. The request's bytes are read and dropped meanwhile: closing a socket
 * with unread bytes sends a reset, which could destroy the 403 before the client reads it.
 */
function refuseHttp1(socket: net.Socket): void {
  socket.end(errorResponseBytes('unauthorized', true));
  socket.on('data', () => {});
  socket.once('end', () => socket.destroy());
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.resume();
}

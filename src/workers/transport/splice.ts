// Joins two sockets into one opaque byte stream: TCP forwarding, and HTTP/1 tunnels after their handshake.
import type net from 'node:net';

/**
 * Each direction is piped with backpressure; a FIN from one side becomes a FIN to the other
 * (half-close), so request/response protocols that shut down their write side keep working. An error
 * or an abrupt close on either side resets the other: nothing is left half-alive.
 */
export function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const onClose = (closed: net.Socket, other: net.Socket) => (hadError: boolean) => {
    if (other.destroyed) return;
    if (hadError) reset(other);
    else if (!closed.readableEnded) other.destroy();
  };
  a.on('error', noop);
  b.on('error', noop);
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}

function noop(): void {}

/**
 * Resets a TCP connection (RST, so the peer sees the failure); a TLS socket (mesh TLS, node:tls holds its
 * handle and resetAndDestroy throws for it) is destroyed instead.
 */
function reset(socket: net.Socket): void {
  if ((socket as { encrypted?: boolean }).encrypted === true) socket.destroy();
  else socket.resetAndDestroy();
}

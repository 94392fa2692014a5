// Small helpers for tests that speak raw bytes to the proxy or run throwaway backends.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** A port nothing listens on right now (for a process that must be told its port before it starts). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A free port below the kernel's ephemeral range, for a server restarted on the same port while its
 * clients keep reconnecting. In the ephemeral range a client reconnecting to the port while nothing
 * listens can be given that very port as its own (a TCP self-connect), and the restarted server then
 * cannot bind it (EADDRINUSE).
 */
export async function restartablePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the common default
  }
  const top = low - 1;
  const bottom = Math.max(1024, top - 10_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error(`no free port found between ${bottom} and ${top}`);
}

export async function listen<S extends net.Server>(server: S): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Closes a server and every connection it still holds. */
export function closeServer(server: net.Server): Promise<void> {
  const withAll = server as net.Server & { closeAllConnections?: () => void };
  withAll.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Writes `text` on a fresh connection and collects what comes back until the peer closes or, when
 * `until` is given, until the bytes so far satisfy it.
 */
export async function exchange(port: number, text: string | Buffer, until?: (received: string) => boolean, timeoutMs = 5000): Promise<string> {
  const socket = await connect(port);
  socket.write(text);
  return collect(socket, until, timeoutMs);
}

export function collect(socket: net.Socket, until?: (received: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out; received so far: ${JSON.stringify(received)}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(received);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (until?.(received)) {
        socket.destroy();
        done();
      }
    });
    socket.on('error', () => {});
    socket.on('close', done);
  });
}

// Loopback helpers: free ports and waiting for a listener.
import { createServer, connect } from 'node:net';
import { sleep } from './procs.ts';

export const HOST = '127.0.0.1';

const handedOut = new Set<number>();

/** A port that was free a moment ago (bound to 0, then closed); never the same one twice in a run. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export function canConnect(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until something accepts TCP connections on `port`, or throws after `timeoutMs`. */
export async function waitListening(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${HOST}:${port} after ${timeoutMs} ms`);
}

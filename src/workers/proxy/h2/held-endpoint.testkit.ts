// An h2c endpoint for tests of how the proxy queues and spreads streams: it advertises the given
// SETTINGS_MAX_CONCURRENT_STREAMS and holds every request but /warm until release(), counting what it
// received, what it holds, and its connections.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface HeldEndpoint {
  readonly port: number;
  /** Requests received, /warm included. */
  received(): number;
  /** Requests received and not answered yet. */
  inFlight(): number;
  /** Connections accepted, and those still open. */
  sessions(): number;
  open(): number;
  /** Answers everything held, and from now on every request at once. */
  release(): void;
  close(): void;
}

export async function startHeldEndpoint(maxConcurrentStreams: number): Promise<HeldEndpoint> {
  let holding = true;
  let received = 0;
  let inFlight = 0;
  let sessions = 0;
  let open = 0;
  const held: Array<() => void> = [];
  const server = http2.createServer({ settings: { maxConcurrentStreams } });
  server.on('session', (s) => {
    sessions++;
    open++;
    s.on('close', () => open--);
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    received++;
    inFlight++;
    stream.on('error', () => {});
    stream.resume();
    const answer = (): void => {
      inFlight--;
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    };
    stream.on('end', () => (holding && headers[':path'] !== '/warm' ? held.push(answer) : answer()));
  });
  // On loopback, a port the kernel picks (no import from test/: this file is compiled with src/).
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received: () => received,
    inFlight: () => inFlight,
    sessions: () => sessions,
    open: () => open,
    release: () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    close: () => server.close(),
  };
}

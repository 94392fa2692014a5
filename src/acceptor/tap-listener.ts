// The Tap port (SLUICE_PROXY_TAP_LISTEN_ADDR, Linkerd's 4190), bound at start so a taken port is known at
// once, but served by the gRPC Tap server (tap-server.ts) only from its first connection on: grpc-js and
// protobuf cost the main thread ~15 MB of memory, and most proxies are never tapped.
//
// With identity on, each connection first goes through a TapTransport (tap-tls.ts: mutual TLS, only the
// controller's identity is served); without it, connections reach the Tap server in plaintext, as
// anything that can reach the port may tap (documented in docs/proxy.md#tap).
import net from 'node:net';
import { formatHostPort, type HostPort } from '../config/parse.ts';
import type { Logger } from '../log/logger.ts';
import type { FamilySnapshot } from '../telemetry/metrics.ts';
import { NO_TAP_COUNTS, tapMetrics, type TapCounts } from './tap-metrics.ts';

/** What stands between an accepted connection and the Tap server (mutual TLS under identity). */
export interface TapTransport {
  /** Calls `serve` with the connection to serve once it may be served; refuses (closes) it otherwise. */
  accept(socket: net.Socket, serve: (connection: net.Socket) => void): void;
  metrics(): FamilySnapshot[];
  close(): void;
}

/** The loaded Tap server, as the listener sees it. */
export interface TapService {
  inject(socket: net.Socket): void;
  counts(): TapCounts;
  close(): void;
}

export class TapListener {
  private readonly server: net.Server;
  private readonly log: Logger;
  private readonly load: () => Promise<TapService>;
  private service: TapService | undefined;
  private loading: Promise<TapService | undefined> | undefined;
  private readonly transport: TapTransport | undefined;

  constructor(log: Logger, load: () => Promise<TapService>, transport?: TapTransport) {
    this.log = log;
    this.load = load;
    this.transport = transport;
    // Paused: the gRPC server (or the TLS handshake) reads the connection from its first byte.
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  listen(addr: HostPort): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: addr.host, port: addr.port }, () => {
        this.server.removeListener('error', reject);
        resolve({ host: addr.host, port: (this.server.address() as net.AddressInfo).port });
      });
    });
  }

  metrics(): FamilySnapshot[] {
    return [...tapMetrics(this.service?.counts() ?? NO_TAP_COUNTS), ...(this.transport?.metrics() ?? [])];
  }

  close(): void {
    this.server.close();
    this.transport?.close();
    this.service?.close();
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.transport === undefined) this.serve(socket);
    else this.transport.accept(socket, (connection) => this.serve(connection));
  }

  private serve(socket: net.Socket): void {
    if (this.service !== undefined) {
      this.service.inject(socket);
      return;
    }
    socket.on('error', () => socket.destroy());
    this.loading ??= this.load().then(
      (service) => (this.service = service),
      (error: Error) => {
        this.log.error('cannot start the tap server', { error: error.message });
        this.loading = undefined;
        return undefined;
      },
    );
    void this.loading.then((service) => {
      if (service === undefined || socket.destroyed) socket.destroy();
      else service.inject(socket);
    });
  }
}

/**
 * Binds the Tap port, or returns undefined when tap is disabled or the port cannot be bound: tap is an
 * observer, so a taken port is logged and the proxy carries traffic anyway.
 */
export async function startTapListener(
  addr: HostPort | undefined,
  log: Logger,
  load: () => Promise<TapService>,
  transport?: TapTransport,
): Promise<{ listener: TapListener; bound: HostPort } | undefined> {
  if (addr === undefined) return undefined;
  const listener = new TapListener(log, load, transport);
  try {
    return { listener, bound: await listener.listen(addr) };
  } catch (error) {
    log.error('cannot listen for tap requests; tap is off', { addr: formatHostPort(addr), error: (error as Error).message });
    return undefined;
  }
}

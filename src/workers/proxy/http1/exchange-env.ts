// What an HTTP/1 exchange (exchange.ts) works with: its client connection, and what the engine's
// exchanges share.
import type { HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import type { Destination } from '../../discovery/destination-cache.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import type { RouteMetrics } from '../../profiles/route-metrics.ts';
import type { TapStream } from '../../tap/registry.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import type { AttemptUpstream, UpstreamOwner, UpstreamPool } from './upstream-pool.ts';

/** Control-plane routing as the fast engine sees it (outbound/mesh.ts). */
export interface Http1Mesh {
  keyFor(target: HostPort): string | undefined;
  /** Calls `done` with the destination, or undefined for "not in the mesh"; synchronously when known. */
  lookup(key: string, done: (dest: Destination | undefined) => void): void;
  readonly routes: RouteMetrics;
  now(): number;
}

/** The mesh hop's HTTP/1 over HTTP/2 (orig-proto/upgrade.ts), for endpoints Destination hints take h2. */
export interface Http1Upgrades {
  /** A stream to `addr` (mesh TLS verifying `peer` when given) that looks to `owner` like a connection. */
  acquire(addr: HostPort, key: string, owner: UpstreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): AttemptUpstream;
}

/** What the exchange needs from its client connection (client-conn.ts). */
export interface ExchangeClient {
  readonly conn: AcceptedConnection;
  writeClient(data: Buffer): void;
  corkClient(): void;
  uncorkClient(): void;
  /** The request body may be forwarded (again): an attempt is connected and not blocked. */
  bodyWanted(): void;
  /** The response is complete (or answered by the proxy); `close` when the connection cannot go on. */
  exchangeDone(close: boolean): void;
  /** Cut both connections: a response already under way cannot be turned into an error any more. */
  destroyAll(): void;
  /** Offers the request to the installed taps (call only while `taps.active`). */
  startTap(destination: HostPort | undefined, endpoint: Endpoint | undefined, startedAt: number): TapStream | undefined;
}

/** Everything the engine's exchanges share, built once per direction. */
export interface ExchangeEnv {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  readonly pool: UpstreamPool;
  /** Resolves a name to an address (cached DNS, then the connection's own destination). */
  resolve(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void;
  mesh: Http1Mesh | undefined;
  /** Set once the HTTP/2 engine is loaded (outbound, with a controller): the orig-proto upgrade. */
  upgrades: Http1Upgrades | undefined;
}

// What an HTTP/2 exchange (exchange.ts) shares with the other exchanges of its direction (front.ts).
import type { HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import type { Http1Mesh } from '../http1/exchange-env.ts';
import type { H2Upstreams } from './upstreams.ts';

/** What a client stream's ctx is while its request is served: an H2Exchange, or an orig-proto downgrade. */
export interface ClientStreamHandler {
  requestData(data: Buffer, endStream: boolean): void;
  requestTrailers(trailers: string[]): void;
  clientReset(code: number): void;
  clientWindow(flushed: number): void;
}

/** Something whose deadlines the front's sweep checks. */
export interface Timed {
  check(now: number): void;
}

export interface H2Env {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  readonly upstreams: H2Upstreams;
  /** Control-plane routing; outbound only, when a controller is configured. */
  readonly mesh: Http1Mesh | undefined;
  /** Resolves a name to an address (cached DNS, then the connection's own destination). */
  resolve(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void;
  /** An exchange with a deadline is watched by the front's sweep until it ends. */
  track(exchange: Timed): void;
  untrack(exchange: Timed): void;
}

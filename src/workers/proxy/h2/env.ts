// What an HTTP/2 exchange (exchange.ts) shares with the other exchanges of its direction (front.ts).
import type { HostPort } from '../../../config/parse.ts';
import type { Direction } from '../../../telemetry/proxy-metrics.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import type { Http1Mesh } from '../http1/exchange-env.ts';
import type { H2Exchange } from './exchange.ts';
import type { H2Upstreams } from './upstreams.ts';

export interface H2Env {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  readonly upstreams: H2Upstreams;
  /** Control-plane routing; outbound only, when a controller is configured. */
  readonly mesh: Http1Mesh | undefined;
  /** Resolves a name to an address (cached DNS, then the connection's own destination). */
  resolve(conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void;
  /** An exchange with a deadline is watched by the front's sweep until it ends. */
  track(exchange: H2Exchange): void;
  untrack(exchange: H2Exchange): void;
}

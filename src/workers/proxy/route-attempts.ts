// The bookkeeping every protocol's exchange does around a destination the control plane resolved: a
// request enters it (its route, route metrics, the retry budget, "in use"), each attempt picks where it
// goes and is counted, its outcome is counted for the route and may be retried, and the request leaves
// it. One piece for the HTTP/1 and HTTP/2 exchanges, which differ only in how they send.
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import type { ProxyErrorKind } from '../../core/errors.ts';
import type { HttpStats } from '../../telemetry/proxy-metrics.ts';
import type { Endpoint } from '../balance/endpoints.ts';
import type { Destination } from '../discovery/destination-cache.ts';
import type { RouteStats } from '../profiles/route-metrics.ts';
import { pathOf, type Route } from '../profiles/routes.ts';
import { decideRetry, type ReplayBuffer } from '../retry/retry.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import type { Http1Mesh } from './http1/exchange-env.ts';
import { directTlsLabels, endpointTlsLabels } from './mesh-tls.ts';

export interface RouteEntry {
  readonly route: Route;
  readonly routeStats: RouteStats;
}

/** A request starts using `dest`: counted once for its route, and the destination is in use. */
export function enterDestination(mesh: Http1Mesh, dest: Destination, method: string, target: string): RouteEntry {
  const route = dest.profile.route(method, pathOf(target));
  const routeStats = mesh.routes.route('outbound', dest.authority, route.labels);
  routeStats.request();
  dest.budget.deposit();
  dest.active++;
  return { route, routeStats };
}

/** The request is over: the destination may be forgotten once idle. */
export function leaveDestination(mesh: Http1Mesh, dest: Destination): void {
  dest.active--;
  dest.lastUsed = mesh.now();
}

/**
 * Counts one attempt's outcome for its route and says whether to send the request again (the route,
 * the body kept and the budget allow it). A route timeout ends the exchange: nothing is retried.
 */
export function shouldRetry(
  route: Route,
  routeStats: RouteStats,
  dest: Destination,
  replay: ReplayBuffer | undefined,
  status: number,
  grpcStatus: number,
  failed: boolean,
  rttMs: number,
  kind: ProxyErrorKind | '',
): boolean {
  routeStats.actualResponse(status, grpcStatus, failed, rttMs, kind);
  const retry = kind === 'response_timeout' ? undefined : decideRetry(route, failed, false, replay, dest.budget);
  if (retry !== undefined) routeStats.retryable(retry);
  return retry === 'retried';
}

const keys = new WeakMap<HostPort, string>();

/** The pool key (`host:port`) of an address; kept per address object, which routing reuses. */
export function poolKey(addr: HostPort): string {
  let key = keys.get(addr);
  if (key === undefined) keys.set(addr, (key = formatHostPort(addr)));
  return key;
}

/** Where one attempt goes. One per exchange, filled again by each attempt: nothing allocated per attempt. */
export class AttemptTarget {
  addr: HostPort = { host: '', port: 0 };
  /** The upstream pool's key for `addr`. */
  key = '';
  tlsLabels = '';
  /** The destination's endpoint; undefined for the one direct address. */
  endpoint: Endpoint | undefined;
  stats: HttpStats | undefined;
}

/**
 * Picks where an attempt goes — `dest`'s balanced pick, or else the one `direct` address — and counts the
 * request there (and, for a destination, as an actual request of its route). The pick's failure kind
 * when the destination has no endpoint to give.
 */
export function chooseTarget(
  into: AttemptTarget,
  ctx: WorkerContext,
  conn: AcceptedConnection,
  authority: string,
  dest: Destination | undefined,
  direct: HostPort | undefined,
  routeStats: RouteStats | undefined,
): ProxyErrorKind | undefined {
  if (dest !== undefined) {
    const pick = dest.endpoints.pick();
    if (typeof pick === 'string') return pick;
    pick.dispatched();
    into.endpoint = pick;
    into.addr = pick.addr;
    into.key = pick.key;
    into.tlsLabels = endpointTlsLabels(ctx, pick);
    into.stats = ctx.metrics.http(conn.direction, authority, pick.addr, pick.dstLabels, into.tlsLabels);
    routeStats?.actualRequest();
  } else {
    const addr = direct as HostPort;
    into.endpoint = undefined;
    into.addr = addr;
    into.key = poolKey(addr);
    into.tlsLabels = directTlsLabels(ctx, conn);
    into.stats = ctx.metrics.http(conn.direction, authority, addr, '', into.tlsLabels);
  }
  into.stats.request();
  return undefined;
}

// The bookkeeping every protocol's exchange does around a destination the control plane resolved: a
// request enters it (its route, route metrics, the retry budget, "in use"), each attempt's outcome is
// counted for the route and may be retried, and the request leaves it. One piece for the HTTP/1 and
// HTTP/2 exchanges, which differ only in how they send.
import type { ProxyErrorKind } from '../../core/errors.ts';
import type { Destination } from '../discovery/destination-cache.ts';
import type { RouteStats } from '../profiles/route-metrics.ts';
import { pathOf, type Route } from '../profiles/routes.ts';
import { decideRetry, type ReplayBuffer } from '../retry/retry.ts';
import type { Http1Mesh } from './http1/exchange-env.ts';

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

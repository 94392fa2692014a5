// TopRoutes (`sluice routes`): per-route stats from the proxies' ServiceProfile route metrics. Without
// --to, the routes of the traffic a resource received (inbound); with --to svc/X (or au/X), the routes
// of what it sent there (outbound). Requests no route matched form the `[DEFAULT]` row; an authority
// whose proxies report no route metrics at all (no profile) gets a `[DEFAULT]` row from its plain
// request metrics.
import type { RouteRow, RouteTable, TopRoutesRequest, TopRoutesResponse } from '../../api/public-messages.ts';
import type { Aggregate, StatKey } from '../telemetry/store.ts';
import { rateSeconds } from '../telemetry/keys.ts';
import { authorityNamesService, matchesSource, sourceName, type ResourceRef } from './resources.ts';
import { basicStats, parseWindow, RequestError, resourceRef, type StatSources } from './stat-summary.ts';

export const DEFAULT_ROUTE = '[DEFAULT]';
const SEP = '\u0001';

export function topRoutes(sources: StatSources, request: TopRoutesRequest): TopRoutesResponse {
  const selected = request.selector?.resource ?? {};
  try {
    const window = parseWindow(request.time_window);
    const selector = resourceRef(selected, '', false) as ResourceRef;
    const outbound = request.outbound ?? (request.to_resource !== undefined ? 'to_resource' : 'none');
    const to = outbound === 'to_resource' ? (resourceRef(request.to_resource, selected.namespace ?? '', false) as ResourceRef) : undefined;
    if (to !== undefined && to.type !== 'service' && to.type !== 'authority') {
      throw new RequestError('routes --to takes a service (svc/NAME) or an authority (au/HOST:PORT): routes belong to services');
    }
    if (selector.type === 'authority') throw new RequestError('routes takes a workload, pod, namespace or service, not an authority');
    const now = (sources.now ?? Date.now)();

    const ownerOf = (key: StatKey): string | undefined => {
      if (selector.type === 'service') {
        // A service's own routes: what its pods received, addressed to it.
        if (key.direction !== 'inbound' || !authorityNamesService(key.authority, selector.name, selector.namespace)) return undefined;
        return `service/${selector.name}`;
      }
      if (!matchesSource(selector, key)) return undefined;
      if (to === undefined ? key.direction !== 'inbound' : key.direction !== 'outbound') return undefined;
      if (to?.type === 'service' && !authorityNamesService(key.authority, to.name, to.namespace)) return undefined;
      if (to?.type === 'authority' && to.name !== '' && key.authority !== to.name) return undefined;
      const owner = sourceName(selector.type, key);
      return owner === undefined ? undefined : `${selector.type}/${owner.name}`;
    };
    const result = sources.store.query(
      window.ms,
      (key) => {
        if (key.scope === 'tcp' || key.authority === '') return undefined;
        const owner = ownerOf(key);
        return owner === undefined ? undefined : [owner, withPort(key.authority), key.scope === 'svc' ? '' : key.route, key.scope].join(SEP);
      },
      now,
      { directions: [selector.type !== 'service' && to !== undefined ? 'outbound' : 'inbound'], scopes: ['svc', 'route', 'actual'] },
    );

    // owner → authority → route → scope aggregates
    const owners = new Map<string, Map<string, Map<string, Map<string, Aggregate>>>>();
    for (const [group, agg] of result.groups) {
      const [owner = '', authority = '', route = '', scope = ''] = group.split(SEP);
      let byAuthority = owners.get(owner);
      if (byAuthority === undefined) owners.set(owner, (byAuthority = new Map()));
      let byRoute = byAuthority.get(authority);
      if (byRoute === undefined) byAuthority.set(authority, (byRoute = new Map()));
      let byScope = byRoute.get(route);
      if (byScope === undefined) byRoute.set(route, (byScope = new Map()));
      byScope.set(scope, agg);
    }

    const tables: RouteTable[] = [];
    for (const [owner, byAuthority] of [...owners].sort((a, b) => a[0].localeCompare(b[0]))) {
      const rows: RouteRow[] = [];
      for (const [authority, byRoute] of [...byAuthority].sort((a, b) => a[0].localeCompare(b[0]))) {
        const profiled = [...byRoute.values()].some((byScope) => byScope.has('route'));
        const routes = [...byRoute].filter(([, byScope]) => (profiled ? byScope.has('route') : byScope.has('svc')));
        routes.sort((a, b) => (a[0] === '' ? 1 : b[0] === '' ? -1 : a[0].localeCompare(b[0])));
        for (const [route, byScope] of routes) {
          const effective = profiled ? byScope.get('route') : byScope.get('svc');
          if (effective === undefined) continue;
          rows.push({
            route: route === '' ? DEFAULT_ROUTE : route,
            authority,
            time_window: window.label,
            stats: effective.success + effective.failure > 0 ? basicStats(effective, byScope.get('actual')) : null,
            window_seconds: rateSeconds(effective, result.seconds),
          });
        }
      }
      tables.push({ resource: owner, rows });
    }
    if (tables.length === 0 && selector.name !== '') tables.push({ resource: `${selector.type}/${selector.name}`, rows: [] });
    return { ok: { routes: tables } };
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    return { error: { resource: selected, error: error.message } };
  }
}

/**
 * An authority with its port: requests name `books.shop.svc.cluster.local` (Host) where route metrics
 * name `books.shop.svc.cluster.local:80` (`dst`); both are one service's rows.
 */
export function withPort(authority: string): string {
  return /:\d+$/.test(authority) ? authority : `${authority}:80`;
}

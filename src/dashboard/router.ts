// Where the page is, from the URL's hash: `#/` (namespaces), `#/ns/<ns>` (its workloads),
// `#/ns/<ns>/<type>/<name>` (one workload), `#/topology` or `#/topology/<ns>`. Hash routes need no
// server rewrite rules and survive a reload. Pure: the tests run it under Node.

export type Route =
  | { readonly page: 'namespaces' }
  | { readonly page: 'namespace'; readonly namespace: string }
  | { readonly page: 'workload'; readonly namespace: string; readonly type: string; readonly name: string }
  | { readonly page: 'topology'; readonly namespace: string }
  | { readonly page: 'not-found'; readonly hash: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+|\/+$/g, '');
  const parts = path === '' ? [] : path.split('/').map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { page: 'namespaces' };
  if (parts[0] === 'topology' && parts.length <= 2) return { page: 'topology', namespace: parts[1] ?? '' };
  if (parts[0] === 'ns' && parts.length === 2) return { page: 'namespace', namespace: parts[1] as string };
  if (parts[0] === 'ns' && parts.length === 4) return { page: 'workload', namespace: parts[1] as string, type: parts[2] as string, name: parts[3] as string };
  return { page: 'not-found', hash };
}

export function hrefOf(route: Route): string {
  const enc = encodeURIComponent;
  switch (route.page) {
    case 'namespaces':
      return '#/';
    case 'namespace':
      return `#/ns/${enc(route.namespace)}`;
    case 'workload':
      return `#/ns/${enc(route.namespace)}/${enc(route.type)}/${enc(route.name)}`;
    case 'topology':
      return route.namespace === '' ? '#/topology' : `#/topology/${enc(route.namespace)}`;
    case 'not-found':
      return route.hash;
  }
}

/** The link of a workload's page, or undefined for types without one (services have no pods of their own). */
export function workloadHref(type: string, namespace: string, name: string): string | undefined {
  if (type === 'service' || type === 'authority' || type === 'namespace' || name === '') return undefined;
  return hrefOf({ page: 'workload', namespace, type, name });
}

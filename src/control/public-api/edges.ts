// Edges (Linkerd's `edges`): which resources send traffic to which, and whether that traffic is mTLS
// with known identities on both ends, from what proxies reported within the window (peer-identities.ts).
//
// An edge is built from the caller's side: outbound traffic of a source resource to a destination
// resource (so a client outside the mesh makes no edge, as in Linkerd). Its SERVER_ID is the identity
// the destination proved to the caller's proxy (`server_id`); its CLIENT_ID is the caller's identity as
// the destination's proxy verified it: a `client_id` the destination reported that is the identity one
// of the source's proxies holds. Linkerd joins the two sides on the namespace written in the client
// identity; joining on the identity itself (each proxy reports its own) names the source exactly.
// Secured: every request and connection of the edge in the window was mTLS, and both identities are known.
import type { Edge, EdgesRequest, EdgesResponse } from '../../api/public-messages.ts';
import type { PeerIdentities } from '../telemetry/peer-identities.ts';
import { canonicalType, destinationName, isWorkloadType, sourceName, type ResourceType } from './resources.ts';
import { parseWindow, RequestError } from './stat-summary.ts';

export interface EdgeSources {
  /** Undefined when the controller keeps no reports (Prometheus answers the public API). */
  readonly identities: PeerIdentities | undefined;
  readonly now?: () => number;
}

/** What the edge rows are made of before they are joined. */
interface EdgeGroup {
  readonly src: { namespace: string; name: string };
  readonly dst: { namespace: string; name: string };
  readonly serverIds: Set<string>;
  /** Why some of the edge's traffic was not mTLS (reasons, or `tls=<value>`). */
  readonly plaintext: Set<string>;
  /** `namespace/pod` of the source's pods on this edge. */
  readonly srcPods: Set<string>;
}

export function edges(sources: EdgeSources, request: EdgesRequest): EdgesResponse {
  const resource = request.selector?.resource ?? {};
  try {
    const type = canonicalType(resource.type ?? '');
    if (type === undefined || type === 'all' || !(isWorkloadType(type) || type === 'pod')) {
      throw new RequestError(`edges are listed per workload type or pod (deploy, sts, ds, job, cj, rc, rs, po), not "${resource.type ?? ''}"`);
    }
    const window = parseWindow(request.time_window);
    if (sources.identities === undefined) {
      throw new RequestError('edges need the telemetry proxies report to the controller; with --prometheus-url the controller keeps none');
    }
    return { ok: { edges: edgeRows(sources.identities, type, resource.namespace ?? '', (sources.now ?? Date.now)() - window.ms) } };
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    return { error: { resource, error: error.message } };
  }
}

function edgeRows(index: PeerIdentities, type: ResourceType, namespace: string, since: number): Edge[] {
  const groups = new Map<string, EdgeGroup>();
  /** Verified client identities per destination row (`namespace/name`). */
  const verifiedClients = new Map<string, Set<string>>();
  for (const seen of index.since(since)) {
    if (seen.key.direction === 'inbound') {
      const dst = sourceName(type, seen.key);
      if (dst === undefined || seen.tls !== 'true' || seen.peer === '') continue;
      const id = `${dst.namespace}/${dst.name}`;
      let clients = verifiedClients.get(id);
      if (clients === undefined) verifiedClients.set(id, (clients = new Set()));
      clients.add(seen.peer);
      continue;
    }
    const src = sourceName(type, seen.key);
    const dst = destinationName(type, seen.key);
    if (src === undefined || dst === undefined) continue;
    if (namespace !== '' && src.namespace !== namespace && dst.namespace !== namespace) continue;
    const id = `${src.namespace}/${src.name}\0${dst.namespace}/${dst.name}`;
    let group = groups.get(id);
    if (group === undefined) groups.set(id, (group = { src, dst, serverIds: new Set(), plaintext: new Set(), srcPods: new Set() }));
    group.srcPods.add(`${seen.key.namespace}/${seen.key.pod}`);
    if (seen.tls === 'true' && seen.peer !== '') group.serverIds.add(seen.peer);
    else group.plaintext.add(seen.reason !== '' ? seen.reason : `tls=${seen.tls || 'unknown'}`);
  }

  const rows: Edge[] = [];
  for (const group of groups.values()) {
    const callers = new Set<string>();
    for (const pod of group.srcPods) {
      const slash = pod.indexOf('/');
      const identity = index.podIdentity(pod.slice(0, slash), pod.slice(slash + 1));
      if (identity !== undefined) callers.add(identity);
    }
    const verified = verifiedClients.get(`${group.dst.namespace}/${group.dst.name}`) ?? new Set<string>();
    const clientIds = [...callers].filter((identity) => verified.has(identity)).sort();
    const serverIds = [...group.serverIds].sort();
    const why: string[] = [...group.plaintext].sort();
    if (why.length === 0 && serverIds.length === 0) why.push('no server identity');
    if (serverIds.length > 0 && clientIds.length === 0) why.push('the destination verified no client identity of the source');
    rows.push({
      src: { namespace: group.src.namespace, type, name: group.src.name },
      dst: { namespace: group.dst.namespace, type, name: group.dst.name },
      client_id: clientIds.join(','),
      server_id: serverIds.join(','),
      no_identity_msg: why.join('; '),
      secured: why.length === 0,
    });
  }
  const order = (e: Edge): string => `${e.src?.namespace}\0${e.src?.name}\0${e.dst?.namespace}\0${e.dst?.name}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

// What the outbound endpoint stacks (HTTP/1 exchanges, HTTP/2 streams, TCP connections) share with the
// mesh that dispatches to them: the thread's context, the destinations, and route metrics.
import type { DestinationCache } from '../../discovery/destination-cache.ts';
import type { RouteMetrics } from '../../profiles/route-metrics.ts';
import type { WorkerContext } from '../context.ts';

export interface MeshContext {
  readonly ctx: WorkerContext;
  readonly cache: DestinationCache;
  readonly routes: RouteMetrics;
}

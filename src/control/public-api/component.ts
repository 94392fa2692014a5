// The public API: registers StatSummary, TopRoutes, Edges, ListPods, Version and SelfCheck, and serves every
// registered method (Tap's too) as gRPC and HTTP/JSON on `publicApiAddr` (8085).
import type {
  EdgesRequest,
  ListPodsRequest,
  StatSummaryRequest,
  TopRoutesRequest,
} from '../../api/public-messages.ts';
import { formatHostPort } from '../../config/parse.ts';
import type { Component, ControllerContext } from '../context.ts';
import { telemetryIdentities, telemetryStore } from '../telemetry/component.ts';
import { PrometheusBackend } from '../telemetry/prometheus/backend.ts';
import { PrometheusClient } from '../telemetry/prometheus/client.ts';
import type { KeyClasses } from '../telemetry/store.ts';
import type { TelemetryBackend } from '../telemetry/view.ts';
import { edges } from './edges.ts';
import { listPods, selfCheck, version } from './handlers.ts';
import { startPublicApiServer } from './server.ts';
import { parseWindow, statSummary } from './stat-summary.ts';
import { topRoutes } from './top-routes.ts';

export const publicApiComponent: Component = async (ctx) => {
  const backend = telemetryBackend(ctx);
  const pods = (): ReturnType<typeof ctx.discovery.pods> => ctx.discovery.pods();
  const controlPlaneNamespace = ctx.config.controlPlaneNamespace;
  // Each request reads a view of the telemetry over its window (the store itself, or Prometheus's answers).
  const sources = async (windowMs: number, only?: KeyClasses) => ({ store: await backend.view(windowMs, only), pods, controlPlaneNamespace });
  ctx.publicApi.addUnary('StatSummary', async (request) => {
    const r = request as StatSummaryRequest;
    const outbound = r.outbound === 'to_resource' || r.outbound === 'from_resource' || r.to_resource !== undefined || r.from_resource !== undefined;
    return statSummary(await sources(windowMsOf(r.time_window), { directions: [outbound ? 'outbound' : 'inbound'], scopes: ['svc', 'tcp'] }), r);
  });
  ctx.publicApi.addUnary('TopRoutes', async (request) => {
    const r = request as TopRoutesRequest;
    return topRoutes(await sources(windowMsOf(r.time_window), { scopes: ['svc', 'route', 'actual'] }), r);
  });
  // Edges come from the reports proxies push; with Prometheus answering, the controller keeps none.
  const identities = ctx.config.prometheusUrl === undefined ? telemetryIdentities(ctx) : undefined;
  ctx.publicApi.addUnary('Edges', async (request) => edges({ identities }, request as EdgesRequest));
  ctx.publicApi.addUnary('ListPods', async (request) => listPods(await sources(LIST_WINDOW_MS), request as ListPodsRequest));
  ctx.publicApi.addUnary('Version', async () => version());
  ctx.publicApi.addUnary('SelfCheck', async () => {
    try {
      return selfCheck(await sources(LIST_WINDOW_MS));
    } catch (error) {
      // Prometheus unreachable: say so as a failed check rather than failing the call.
      return { results: [{ SubsystemName: 'sluice-telemetry', CheckDescription: 'telemetry backend answers', Status: 'ERROR', FriendlyMessageToUser: (error as Error).message }] };
    }
  });

  let server;
  try {
    server = await startPublicApiServer(ctx.publicApi, ctx.config.publicApiAddr, ctx.log);
  } catch (error) {
    ctx.log.error('cannot listen for the public API', { addr: formatHostPort(ctx.config.publicApiAddr), error: (error as Error).message });
    process.exit(1);
  }
  ctx.addresses['public-api'] = formatHostPort(server.address);
  ctx.onClose(() => server.close());
};

/** ListPods and SelfCheck look at what reported within the last minute. */
const LIST_WINDOW_MS = 60_000;

/** The request's window for reading the backend; an invalid one is left for the handler to reject. */
function windowMsOf(text: string | undefined): number {
  try {
    return parseWindow(text).ms;
  } catch {
    return LIST_WINDOW_MS;
  }
}

/** `--prometheus-url` set: Prometheus; otherwise the embedded store. */
function telemetryBackend(ctx: ControllerContext): TelemetryBackend {
  if (ctx.config.prometheusUrl === undefined) return telemetryStore(ctx);
  ctx.log.info('stat and routes are answered from Prometheus', { url: ctx.config.prometheusUrl });
  return new PrometheusBackend(new PrometheusClient({ url: ctx.config.prometheusUrl }));
}

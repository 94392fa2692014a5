// The public API: registers StatSummary, TopRoutes, ListPods, Version and SelfCheck, and serves every
// registered method (Tap's too) as gRPC and HTTP/JSON on `publicApiAddr` (8085).
import type {
  ListPodsRequest,
  StatSummaryRequest,
  TopRoutesRequest,
} from '../../api/public-messages.ts';
import { formatHostPort } from '../../config/parse.ts';
import type { Component } from '../context.ts';
import { telemetryStore } from '../telemetry/component.ts';
import { listPods, selfCheck, version } from './handlers.ts';
import { startPublicApiServer } from './server.ts';
import { statSummary } from './stat-summary.ts';
import { topRoutes } from './top-routes.ts';

export const publicApiComponent: Component = async (ctx) => {
  const store = telemetryStore(ctx);
  const sources = {
    store,
    pods: () => ctx.discovery.pods(),
    controlPlaneNamespace: ctx.config.controlPlaneNamespace,
  };
  ctx.publicApi.addUnary('StatSummary', async (request) => statSummary(sources, request as StatSummaryRequest));
  ctx.publicApi.addUnary('TopRoutes', async (request) => topRoutes(sources, request as TopRoutesRequest));
  ctx.publicApi.addUnary('ListPods', async (request) => listPods(sources, request as ListPodsRequest));
  ctx.publicApi.addUnary('Version', async () => version());
  ctx.publicApi.addUnary('SelfCheck', async () => selfCheck(sources));

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

// The web dashboard as a controller component: its own port (`--dashboard-addr`, Linkerd's 8084), the
// page's files from the shipped bundle, and a sampler that keeps ten minutes of history for the
// sparklines. The history and the topology ask the public API's StatSummary handler in this process
// (sampler.ts: the same answers without JSON over loopback); what the page passes through and taps go
// to the public API over HTTP/JSON, as the CLI's do. It registers after the public API
// (src/control/components.ts), whose handlers it calls.
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import { Logger } from '../../log/logger.ts';
import type { Component } from '../context.ts';
import { RELEASE_VERSION } from '../public-api/handlers.ts';
import { PublicApiClient } from './api-client.ts';
import { loadAssets } from './assets.ts';
import { StatHistory } from './history.ts';
import { HistorySampler, inProcessStatSummary } from './sampler.ts';
import { startDashboardServer, type DashboardServer } from './server.ts';

/**
 * In Kubernetes the public API authorizes taps with RBAC: the dashboard taps as the controller's own
 * service account (its projected token, read again for each tap as it rotates), which `sluice install`
 * binds to the tap-admin role, as Linkerd binds its web's account.
 */
async function controllerAuthorization(): Promise<() => Promise<string | undefined>> {
  const { loadKubeConfig } = await import('../kubeconfig.ts');
  const kubeConfig = await loadKubeConfig(process.env, 'dashboard');
  return async () => {
    const options: { headers: Record<string, string> } = { headers: {} };
    await kubeConfig.applyToHTTPSOptions(options);
    return options.headers['Authorization'];
  };
}

/** Where to reach a server bound to `addr` from this process: a wildcard address means loopback. */
export function loopbackFor(addr: string): string {
  if (addr.startsWith('0.0.0.0:')) return `127.0.0.1:${addr.slice('0.0.0.0:'.length)}`;
  if (addr.startsWith('[::]:')) return `[::1]:${addr.slice('[::]:'.length)}`;
  return addr;
}

export const dashboardComponent: Component = async (ctx) => {
  const config = ctx.config.dashboard;
  const publicApi = ctx.addresses['public-api'];
  const statSummary = inProcessStatSummary(ctx.publicApi);
  if (config === undefined) return;
  const log = new Logger(ctx.log.level, ctx.log.format, 'dashboard');
  if (publicApi === undefined || statSummary === undefined) {
    log.warn('no public API in this controller: the dashboard is off');
    return;
  }
  let authorization: (() => Promise<string | undefined>) | undefined;
  if (ctx.config.discovery === 'kubernetes') {
    authorization = await controllerAuthorization().catch((error: Error) => {
      log.warn('no Kubernetes credentials for the dashboard: its taps will be refused', { error: error.message });
      return undefined;
    });
  }
  const api = new PublicApiClient(`http://${loopbackFor(publicApi)}`, authorization);
  const history = new StatHistory();
  const assets = loadAssets();
  if (assets.size === 0) log.warn('the dashboard bundle (dist/dashboard/) is missing: the page says how to build it, the JSON endpoints work');

  const start = (addr: HostPort): Promise<DashboardServer> => startDashboardServer(addr, { api, statSummary, history, assets, version: RELEASE_VERSION, log });
  let server: DashboardServer;
  try {
    server = await start(config.addr);
  } catch (error) {
    if (!config.fallbackToFreePort || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      ctx.log.error('cannot listen for the dashboard', { addr: formatHostPort(config.addr), error: (error as Error).message });
      process.exit(1);
    }
    server = await start({ host: config.addr.host, port: 0 });
    log.warn('the default dashboard port is taken: listening on another one', { wanted: formatHostPort(config.addr), addr: formatHostPort(server.address) });
  }
  ctx.addresses['dashboard'] = formatHostPort(server.address);

  const sampler = new HistorySampler({ history, statSummary, log });
  sampler.start();
  ctx.onClose(async () => {
    sampler.stop();
    await server.close();
  });
};

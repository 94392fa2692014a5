// The controller's admin server (9990): `/live` for the kubelet's liveness probe, `/ready` for its
// readiness probe, `/metrics` for Prometheus. Started before discovery syncs, so that a slow first
// list shows up as "live but not ready" rather than as a crash loop.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/parse.ts';
import { renderPrometheus, type FamilySnapshot } from '../telemetry/metrics.ts';
import { processMetrics } from '../telemetry/process-metrics.ts';

export interface ControllerAdmin {
  readonly address: HostPort;
  /** Called once every component has started and the proxy API is bound. */
  markReady(): void;
  /** Extra metric families (components add theirs); read at every scrape. */
  addMetrics(source: () => readonly FamilySnapshot[]): void;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startControllerAdmin(addr: HostPort): Promise<ControllerAdmin> {
  let ready = false;
  const sources: Array<() => readonly FamilySnapshot[]> = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    switch (path) {
      case '/live':
        return send(res, 200, 'live\n');
      case '/ready':
        return ready ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n');
      case '/metrics': {
        const families = [...processMetrics(), ...sources.flatMap((source) => source())];
        return send(res, 200, renderPrometheus(families), 'text/plain; version=0.0.4; charset=utf-8');
      }
      default:
        return send(res, 404, 'not found\n');
    }
  });
  // Probes and scrapers keep connections open; they must not hold up shutdown.
  server.keepAliveTimeout = 5_000;
  server.listen(addr.port, addr.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
  const bound = server.address() as AddressInfo;
  return {
    address: { host: addr.host, port: bound.port },
    markReady: () => {
      ready = true;
    },
    addMetrics: (source) => sources.push(source),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

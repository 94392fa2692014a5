// End to end: a real proxy reports to the controller's Telemetry service while it carries real traffic,
// and `sluice stat` shows the requests that were sent. Also: a proxy that starts before its controller
// keeps its counts and delivers them once the controller is up.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StatSummaryResponse } from '../../src/api/public-messages.ts';
import { pod, podsOnlyDiscovery, startController, type RunningController } from '../support/controller.ts';
import { startProxy, type RunningProxy } from '../support/proxy.ts';

const SLUICE = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const PODS = [pod('shop', 'web-1', 'Deployment/web'), pod('shop', 'books-1', 'Deployment/books')];

function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [SLUICE, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout, stderr }),
    ),
  );
}

async function backend(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function send(proxy: RunningProxy, ok: number, failed: number): Promise<void> {
  for (let i = 0; i < ok + failed; i++) {
    const response = await fetch(`http://127.0.0.1:${proxy.inbound.port}/${i < ok ? 'ok' : 'fail'}`);
    await response.text();
  }
}

/** Responses the controller has for deployment `name` in shop over the last hour. */
async function responses(controller: RunningController, name: string): Promise<{ success: number; failure: number }> {
  const response = await fetch(`http://${controller.publicApi}/api/v1/StatSummary`, {
    method: 'POST',
    body: JSON.stringify({ selector: { resource: { namespace: 'shop', type: 'deployment', name } }, time_window: '1h' }),
  });
  const body = (await response.json()) as StatSummaryResponse;
  const stats = body.ok?.stat_tables?.[0]?.pod_group?.rows?.[0]?.stats;
  return { success: stats?.success_count ?? 0, failure: stats?.failure_count ?? 0 };
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('telemetry end to end', () => {
  let app: http.Server;
  let appPort: number;

  before(async () => {
    app = await backend();
    appPort = (app.address() as net.AddressInfo).port;
  });

  after(() => {
    app.close();
  });

  it('sluice stat shows the requests a reporting proxy carried', async () => {
    const controller = await startController(podsOnlyDiscovery(() => PODS));
    const proxy = await startProxy({
      SLUICE_PROXY_TELEMETRY_SVC_ADDR: controller.proxyApi,
      SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL: '200ms',
      SLUICE_PROXY_POD_NAME: 'web-1',
      SLUICE_PROXY_POD_NAMESPACE: 'shop',
      SLUICE_PROXY_WORKLOAD: 'deployment/web',
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${appPort}`,
    });
    try {
      await send(proxy, 15, 5);
      await eventually('the controller to have 20 responses', async () => {
        const { success, failure } = await responses(controller, 'web');
        return success + failure === 20;
      });
      assert.deepEqual(await responses(controller, 'web'), { success: 15, failure: 5 });

      const stat = await sluice(['stat', 'deploy', '-n', 'shop', '--api', controller.publicApi]);
      assert.equal(stat.code, 0, stat.stderr);
      const [header, books, web] = stat.stdout.split('\n');
      assert.equal(header, 'NAME    MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN');
      assert.equal(books, 'books      1/1         -        -             -             -             -          -');
      assert.match(web ?? '', /^web        1\/1    75\.00%   +\d+\.\drps +\d+ms +\d+ms +\d+ms +\d+$/);

      const json = JSON.parse((await sluice(['stat', 'po/web-1', '-n', 'shop', '-t', '1h', '-o', 'json', '--api', controller.publicApi])).stdout) as Array<Record<string, number>>;
      assert.equal(json[0]?.['success'], 0.75);
      assert.equal(json[0]?.['rps'] !== undefined && json[0]['rps'] > 0, true);
      assert.ok((json[0]?.['latency_us_p99'] ?? 0) > 0);

      // The proxy's own /metrics is unchanged by reporting.
      assert.match(await proxy.metrics(), /response_total\{direction="inbound"/);
    } finally {
      await proxy.stop();
      await controller.close();
    }
  });

  it('a proxy that cannot reach its controller keeps its counts and serves on', async () => {
    const reserved = net.createServer();
    await new Promise<void>((resolve) => reserved.listen(0, '127.0.0.1', resolve));
    const port = (reserved.address() as net.AddressInfo).port;
    await new Promise((resolve) => reserved.close(resolve));

    const proxy = await startProxy({
      SLUICE_PROXY_WORKERS: '0',
      SLUICE_PROXY_TELEMETRY_SVC_ADDR: `127.0.0.1:${port}`,
      SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL: '200ms',
      SLUICE_PROXY_POD_NAME: 'books-1',
      SLUICE_PROXY_POD_NAMESPACE: 'shop',
      SLUICE_PROXY_WORKLOAD: 'deployment/books',
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${appPort}`,
    });
    let controller: RunningController | undefined;
    try {
      await send(proxy, 4, 0);
      await eventually('a failed report', async () => proxy.logs().includes('cannot report telemetry'));
      await send(proxy, 3, 1);
      controller = await startController(podsOnlyDiscovery(() => PODS), undefined, port);
      const running = controller;
      await eventually('the counts kept during the outage', async () => {
        const { success, failure } = await responses(running, 'books');
        return success + failure >= 8;
      });
      await new Promise((resolve) => setTimeout(resolve, 600)); // a few more reports: nothing more arrives
      assert.deepEqual(await responses(running, 'books'), { success: 7, failure: 1 });
      assert.match(proxy.logs(), /telemetry reports get through again/);
    } finally {
      await proxy.stop();
      await controller?.close();
    }
  });
});

// The dashboard server in the real controller process: the page's files, the public API passed through
// unchanged (and only its read-only methods), history and topology answers, the live channel's hello,
// tap's refusals as clear errors, the Host check against DNS rebinding, and the fallback to a free
// port when the default 8084 is taken.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildDashboard } from '../../../scripts/build-dashboard.ts';
import { startControllerProcess, type ControllerProcess } from '../../../test/support/controller-process.ts';
import { podsOnlyDiscovery, startController } from '../../../test/support/controller.ts';
import { publicApiComponent } from '../public-api/component.ts';
import { telemetryComponent } from '../telemetry/component.ts';
import { dashboardComponent } from './component.ts';
import { hostAllowed } from './server.ts';

/** A GET with any Host header (fetch cannot set Host), the body as text. */
function get(addr: string, path: string, host = addr): Promise<{ status: number; type: string; body: string }> {
  const [hostname, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.get({ hostname, port, path, headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} within 5 s`)));
    req.on('error', reject);
  });
}

/** The first `count` SSE events of a stream, then the connection is closed. */
function sseEvents(addr: string, path: string, count: number): Promise<Array<{ event: string; data: unknown }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: unknown }> = [];
    const req = http.get(`http://${addr}${path}`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          if (events.length >= count) {
            req.destroy();
            resolve(events);
          }
        }
      });
      res.on('end', () => resolve(events));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`fewer than ${count} events within 10 s: ${JSON.stringify(events)}`)));
    req.on('error', (error) => (events.length >= count ? undefined : reject(error)));
  });
}

const post = async (addr: string, method: string, body: string): Promise<{ status: number; body: string }> => {
  const response = await fetch(`http://${addr}/api/v1/${method}`, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
};

describe('the dashboard server in the controller', () => {
  let controller: ControllerProcess;
  let dashboard = '';

  before(async () => {
    await buildDashboard({ ifStale: true });
    controller = await startControllerProcess(['--discovery=file']);
    dashboard = controller.dashboard ?? '';
    assert.notEqual(dashboard, '', `the ready line names the dashboard: ${controller.logs()}`);
  });
  after(() => controller?.stop());

  it('serves the page and its files with safe headers', async () => {
    const page = await get(dashboard, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<script type="module" src="app.js">/);
    const script = await get(dashboard, '/app.js');
    assert.equal(script.status, 200);
    assert.match(script.type, /^text\/javascript/);
    assert.ok(script.body.length > 10_000);
    assert.equal((await get(dashboard, '/nope.js')).status, 404);
    const headers = (await fetch(`http://${dashboard}/`)).headers;
    assert.match(headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(headers.get('x-frame-options'), 'DENY');
  });

  it('passes read-only public API methods through unchanged, and no others', async () => {
    const request = JSON.stringify({ selector: { resource: { namespace: 'emojivoto', type: 'deployment' } }, time_window: '1m', none: {} });
    const direct = await post(controller.publicApi, 'StatSummary', request);
    const through = await post(dashboard, 'StatSummary', request);
    assert.equal(through.status, 200);
    assert.deepEqual(JSON.parse(through.body), JSON.parse(direct.body));
    // The public API's own refusals come through as they are.
    const bad = await post(dashboard, 'StatSummary', '{not json');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error, /invalid request/);
    const tap = await post(dashboard, 'Tap', '{}');
    assert.equal(tap.status, 404);
    assert.match(JSON.parse(tap.body).error, /Tap is not available to the dashboard/);
  });

  it('answers history, topology and info as JSON', async () => {
    const history = JSON.parse((await get(dashboard, '/api/history?namespace=emojivoto')).body);
    assert.equal(history.intervalMs, 10_000);
    assert.equal(typeof history.series, 'object');
    const topology = JSON.parse((await get(dashboard, '/api/topology?window=1m')).body);
    assert.deepEqual(topology, { window: '1m', nodes: [], edges: [], truncated: 0 });
    assert.equal((await get(dashboard, '/api/topology?window=2d')).status, 400);
    const info = JSON.parse((await get(dashboard, '/api/info')).body);
    assert.equal(info.dashboard, 'sluice');
    assert.match(info.bootId, /^[0-9a-f-]{36}$/);
  });

  it('opens the live channel with a hello that names this controller run', async () => {
    const info = JSON.parse((await get(dashboard, '/api/info')).body);
    const [hello] = await sseEvents(dashboard, '/api/live', 1);
    assert.equal(hello?.event, 'hello');
    assert.equal((hello?.data as { bootId: string }).bootId, info.bootId);
  });

  it('refuses a tap it cannot run with a reason, and reports a tap of nothing as a failure event', async () => {
    const refused = await get(dashboard, '/api/tap?type=service&namespace=a&name=b');
    assert.equal(refused.status, 400);
    assert.match(JSON.parse(refused.body).error, /cannot tap a "service"/);
    const events = await sseEvents(dashboard, '/api/tap?type=deployment&namespace=nowhere&name=none', 2);
    assert.equal(events[0]?.event, 'started');
    assert.ok(['failure', 'end'].includes(events[1]?.event ?? ''), JSON.stringify(events));
  });

  it('refuses Host names other than IP addresses and localhost (DNS rebinding)', async () => {
    const refused = await get(dashboard, '/api/info', 'attacker.example:8084');
    assert.equal(refused.status, 403);
    assert.match(JSON.parse(refused.body).error, /Host "attacker.example:8084" is not allowed/);
    assert.equal((await get(dashboard, '/api/info', `localhost:${dashboard.split(':')[1]}`)).status, 200);
    assert.equal(hostAllowed('[::1]:8084'), true);
    assert.equal(hostAllowed('10.0.0.7'), true);
    assert.equal(hostAllowed(undefined), false);
    assert.equal(hostAllowed('sluice.localhost'), true);
  });
});

describe('the dashboard component', () => {
  it('moves to a free port when the default 8084 is taken, and keeps a taken port given explicitly fatal', async () => {
    // Hold 8084 (or find it held already): either way the default is taken.
    const holder = net.createServer();
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve());
      holder.listen({ host: '127.0.0.1', port: 8084 }, () => resolve());
    });
    const running = await startController(podsOnlyDiscovery(() => []), [telemetryComponent, publicApiComponent, dashboardComponent]);
    try {
      const addr = running.ctx.addresses['dashboard'] ?? '';
      assert.match(addr, /^127\.0\.0\.1:\d+$/);
      assert.notEqual(addr, '127.0.0.1:8084');
      assert.equal((await get(addr, '/api/info')).status, 200);
    } finally {
      await running.close();
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

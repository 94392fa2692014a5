// The controller's admin server: what the kubelet's probes and Prometheus see.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatHostPort } from '../config/parse.ts';
import { startControllerAdmin, type ControllerAdmin } from './admin.ts';

describe('controller admin server', { timeout: 10_000 }, () => {
  let admin: ControllerAdmin;
  let base: string;
  before(async () => {
    admin = await startControllerAdmin({ host: '127.0.0.1', port: 0 });
    base = `http://${formatHostPort(admin.address)}`;
  });
  after(() => admin.close());

  const get = async (path: string, method = 'GET'): Promise<{ status: number; body: string }> => {
    const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  };

  it('is live at once, and ready only once the controller says so', async () => {
    assert.deepEqual(await get('/live'), { status: 200, body: 'live\n' });
    assert.deepEqual(await get('/ready'), { status: 503, body: 'not ready\n' });
    admin.markReady();
    assert.deepEqual(await get('/ready'), { status: 200, body: 'ready\n' });
  });

  it('serves process metrics and the metrics components add, in Prometheus text', async () => {
    admin.addMetrics(() => [{ name: 'sluice_controller_peer_reports_total', help: 'Reports forwarded.', kind: 'counter', series: [['result="sent"', 3]] }]);
    const { status, body } = await get('/metrics');
    assert.equal(status, 200);
    assert.match(body, /^# TYPE process_cpu_seconds_total counter$/m);
    assert.match(body, /^sluice_controller_peer_reports_total\{result="sent"\} 3$/m);
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/ready', 'POST')).status, 405);
  });

  it('fails clearly when its port is taken', async () => {
    await assert.rejects(startControllerAdmin(admin.address), /EADDRINUSE/);
  });
});

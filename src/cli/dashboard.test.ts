// `sluice dashboard`: prints a local controller's dashboard URL after checking a Sluice dashboard
// answers there; says clearly when nothing (or something else) answers; in a cluster checks the
// controller is installed and ready, then forwards a local port and prints its URL until stopped.
// (The forward's WebSocket stream itself needs a real API server: the fake one has no port-forward.)
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubeconfigFile } from '../../test/fake-kube/client.ts';
import { FakeKube } from '../../test/fake-kube/server.ts';
import { startControllerProcess, type ControllerProcess } from '../../test/support/controller-process.ts';
import { closeServer, freePort, listen } from '../../test/support/net.ts';
import { CliError } from './api-client.ts';
import { run } from './dashboard.ts';

function io(env: Record<string, string | undefined> = {}): { out: string[]; err: string[]; env: Record<string, string | undefined>; stdout: (t: string) => void; stderr: (t: string) => void } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, env, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
}

describe('sluice dashboard', () => {
  let controller: ControllerProcess;
  let fake: FakeKube;
  let dir = '';
  before(async () => {
    controller = await startControllerProcess(['--discovery=file']);
    fake = await FakeKube.start();
    dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-cli-'));
  });
  after(async () => {
    await controller?.stop();
    await fake?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('prints the URL of a local controller\'s dashboard', async () => {
    const out = io();
    assert.equal(await run(['--address', controller.dashboard as string], out), 0);
    assert.deepEqual(out.out, [`Sluice dashboard: http://${controller.dashboard}/\n`]);
    const fromEnv = io({ SLUICE_DASHBOARD_ADDR: controller.dashboard });
    assert.equal(await run([], fromEnv), 0);
    assert.match(fromEnv.out.join(''), /^Sluice dashboard: http:\/\/127\.0\.0\.1:\d+\/\n$/);
  });

  it('says when nothing, or something other than Sluice, answers at --address', async () => {
    const nothing = `127.0.0.1:${await freePort()}`;
    await assert.rejects(run(['--address', nothing], io()), (e: unknown) => e instanceof CliError && /no Sluice dashboard answers at 127\.0\.0\.1:\d+: is the controller running/.test(e.message));
    const other = http.createServer((_req, res) => res.end('hello'));
    const port = await listen(other);
    try {
      await assert.rejects(run(['--address', `127.0.0.1:${port}`], io()), /not a Sluice dashboard/);
    } finally {
      await closeServer(other);
    }
    await assert.rejects(run(['--port', 'many'], io()), /--port must be a port number/);
  });

  it('without a local dashboard or a kubeconfig, says how to get one', async () => {
    const env = { SLUICE_DASHBOARD_ADDR: `127.0.0.1:${await freePort()}`, KUBECONFIG: '', HOME: '/nonexistent' };
    await assert.rejects(run([], io(env)), (e: unknown) => e instanceof CliError && /no cluster to port-forward to/.test(e.message) && /npm start/.test(e.message));
  });

  it('in a cluster, refuses without an installed, ready controller and forwards once there is one', async () => {
    const env = { KUBECONFIG: kubeconfigFile(fake, dir), HOME: '/nonexistent' };
    await assert.rejects(run(['--cluster', '--port', '0'], io(env)), /no sluice-controller Deployment in namespace sluice: is Sluice installed/);
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'sluice-controller', namespace: 'sluice' },
      spec: { selector: { matchLabels: { 'sluice.dev/control-plane-component': 'controller' } }, template: {} },
      status: { readyReplicas: 0 },
    };
    fake.apply(deployment);
    await assert.rejects(run(['--cluster', '--port', '0'], io(env)), /has no ready pod yet/);
    fake.apply({ ...deployment, status: { readyReplicas: 1 } });
    const stop = new AbortController();
    const out = io(env);
    const running = run(['--cluster', '--port', '0'], out, stop.signal);
    const deadline = Date.now() + 10_000;
    while (out.out.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(out.out.join(''), /^Sluice dashboard: http:\/\/127\.0\.0\.1:\d+\/ \(forwarded to sluice\/sluice-controller:8084; Ctrl-C to stop\)\n$/);
    stop.abort();
    assert.equal(await running, 0);
  });
});

// The proxy against the real controller (`sluice-controller --discovery file`), not the fake: endpoints
// and their labels, profile routes and retries as the controller encodes them, and a discovery file edit
// reaching the proxy.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { counts, eventually, send, startBackend, who, type Backend } from '../../test/support/backends.ts';
import { closeServer, listen } from '../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../test/support/proxy.ts';

const CONTROLLER = fileURLToPath(new URL('../control/main.ts', import.meta.url));
const WEB = 'web.default.svc.cluster.local';

function discoveryFile(ports: readonly number[], flakyPort: number): string {
  const endpoints = ports.map((port, i) => `          - {pod: web-${i}, ip: 127.0.0.1, port: ${port}, owner: deployment/web, serviceAccount: web}`).join('\n');
  return `namespaces:
  default:
    services:
      web:
        ports: [80]
        endpoints:
${endpoints}
      flaky:
        ports: [80]
        endpoints:
          - {pod: flaky-0, ip: 127.0.0.1, port: ${flakyPort}, owner: deployment/flaky}
    profiles:
      flaky:
        routes:
          - name: GET /again
            condition: {method: GET, pathRegex: /again}
            isRetryable: true
`;
}

async function startController(file: string): Promise<{ child: ChildProcess; proxyApi: string }> {
  const child = spawn(
    process.execPath,
    [CONTROLLER, '--discovery=file', `--discovery-file=${file}`, '--proxy-api-addr=127.0.0.1:0', '--public-api-addr=127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } },
  );
  let logs = '';
  child.stderr?.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: string) => {
      logs += chunk;
      const ready = logs.split('\n').find((l) => l.includes('controller ready'));
      if (ready !== undefined) resolve(ready);
    });
    child.once('exit', (code) => reject(new Error(`controller exited with ${code}:\n${logs}`)));
  });
  const match = /proxy-api=(\S+)/.exec(line);
  if (match === null) throw new Error(`no proxy-api= in ${line}`);
  return { child, proxyApi: match[1] as string };
}

describe('against the real controller (file discovery)', () => {
  let dir: string;
  let file: string;
  let backends: Backend[];
  let flaky: http.Server;
  let flakyPort: number;
  let controller: ChildProcess;
  let proxy: RunningProxy;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-interop-'));
    file = path.join(dir, 'mesh.yaml');
    backends = await Promise.all(['w0', 'w1', 'w2'].map((n) => startBackend(n)));
    let n = 0;
    flaky = http.createServer((req, res) => {
      req.resume();
      res.writeHead(n++ % 2 === 0 ? 503 : 200);
      res.end();
    });
    flakyPort = await listen(flaky);
    writeFileSync(file, discoveryFile([backends[0]?.port ?? 0, backends[1]?.port ?? 0], flakyPort));
    const started = await startController(file);
    controller = started.child;
    proxy = await startProxy({ SLUICE_PROXY_DESTINATION_SVC_ADDR: started.proxyApi, SLUICE_PROXY_DESTINATION_CONTEXT: '{"ns":"default"}' });
  });
  after(async () => {
    await proxy.stop();
    controller.kill('SIGTERM');
    if (controller.exitCode === null) await once(controller, 'exit');
    await Promise.all(backends.map((b) => b.close()));
    await closeServer(flaky);
    rmSync(dir, { recursive: true, force: true });
  });

  it('balances over the endpoints the controller serves, with its metric labels', async () => {
    // Held requests are load on their endpoint: P2C turns to the other one, whatever the latencies.
    const [w0, w1] = backends as [Backend, Backend];
    w0.hold = w1.hold = true;
    const inflight: Array<Promise<string>> = [];
    await eventually(async () => {
      inflight.push(send(proxy.outbound.port, WEB).then(who));
      await new Promise((r) => setTimeout(r, 15));
      return w0.seen.length > 0 && w1.seen.length > 0;
    }, 15_000, 'requests held by both endpoints');
    w0.release();
    w1.release();
    const c = counts(await Promise.all(inflight));
    assert.ok((c['w0'] ?? 0) > 0 && (c['w1'] ?? 0) > 0 && (c['w0'] ?? 0) + (c['w1'] ?? 0) === inflight.length, JSON.stringify(c));
    const text = await proxy.metrics();
    assert.ok(metricValue(text, 'response_total', { dst_service: 'web', dst_namespace: 'default', dst_pod: 'web-0', dst_deployment: 'web' }) > 0, text);
  });

  it('retries a retryable route of the controller’s profile', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await send(proxy.outbound.port, 'flaky.default.svc.cluster.local', { path: '/again' })).status, 200);
    const text = await proxy.metrics();
    assert.ok(metricValue(text, 'route_retryable_total', { rt_route: 'GET /again', retry: 'retried' }) > 0);
  });

  it('follows an edit of the discovery file', async () => {
    writeFileSync(file, discoveryFile([backends[2]?.port ?? 0], flakyPort));
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'w2', 20_000, 'the edited endpoints');
    for (let i = 0; i < 10; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'w2');
  });
});

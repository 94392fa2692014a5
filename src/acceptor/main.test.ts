// The proxy process as an operator sees it: start-up errors, the admin endpoints, worker balancing and
// graceful shutdown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { eventually } from '../../test/support/backends.ts';
import { closeServer, collect, connect, listen } from '../../test/support/net.ts';
import { CRASHABLE_PROXY, crashWorker, metricValue, startProxy } from '../../test/support/proxy.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-proxy.js', import.meta.url));

function adminRequest(port: number, method: string, path: string, body?: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('start-up', () => {
  it('refuses a bad configuration with a message naming the variable', () => {
    const result = spawnSync(process.execPath, [BIN], {
      env: { PATH: process.env['PATH'] ?? '', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: 'soon' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT="soon"/);
  });

  it('exits with a clear message when a listen address is taken', async (t) => {
    const blocker = net.createServer();
    const port = await listen(blocker);
    t.after(() => closeServer(blocker));
    const result = spawnSync(process.execPath, [BIN], {
      env: {
        PATH: process.env['PATH'] ?? '',
        SLUICE_PROXY_INBOUND_LISTEN_ADDR: `127.0.0.1:${port}`,
        SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: '127.0.0.1:0',
        SLUICE_PROXY_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
        SLUICE_PROXY_WORKERS: '1',
      },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cannot listen for inbound connections.*EADDRINUSE/);
  });
});

describe('admin server', () => {
  it('serves /live, /ready, /metrics (plain and gzip) and the log level', async (t) => {
    const proxy = await startProxy();
    t.after(() => proxy.stop());
    const port = proxy.admin.port;
    assert.deepEqual([(await adminRequest(port, 'GET', '/live')).status, (await adminRequest(port, 'GET', '/ready')).status], [200, 200]);

    const plain = await adminRequest(port, 'GET', '/metrics');
    assert.match(String(plain.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = plain.body.toString();
    for (const family of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'proxy_worker_open_connections']) {
      assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), family);
    }
    const zipped = await adminRequest(port, 'GET', '/metrics', undefined, { 'accept-encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.match(gunzipSync(zipped.body).toString(), /^# TYPE process_cpu_seconds_total counter$/m);

    assert.equal((await adminRequest(port, 'GET', '/proxy-log-level')).body.toString(), 'info\n');
    assert.equal((await adminRequest(port, 'PUT', '/proxy-log-level', 'debug')).status, 200);
    assert.equal((await adminRequest(port, 'GET', '/proxy-log-level')).body.toString(), 'debug\n');
    assert.equal((await adminRequest(port, 'PUT', '/proxy-log-level', 'chatty')).status, 400);
    assert.equal((await adminRequest(port, 'POST', '/shutdown')).status, 404, 'shutdown is off unless enabled');
    assert.equal((await adminRequest(port, 'GET', '/nope')).status, 404);
  });

  it('shuts down on POST /shutdown when enabled', async () => {
    const proxy = await startProxy({ SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'true' });
    const exited = once(proxy.child, 'exit');
    assert.equal((await adminRequest(proxy.admin.port, 'POST', '/shutdown')).status, 202);
    const [code] = (await exited) as [number];
    assert.equal(code, 0);
  });
});

describe('worker threads', () => {
  it('spreads connections over workers by open connections', async (t) => {
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_WORKERS: '2', SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
    const clients: net.Socket[] = [];
    t.after(async () => {
      for (const c of clients) c.destroy();
      await proxy.stop();
      await closeServer(server);
    });
    for (let i = 0; i < 10; i++) {
      const socket = await connect(proxy.outbound.port);
      clients.push(socket);
      socket.write('\x00hold');
      await once(socket, 'data'); // echoed: the connection is adopted by a worker and open end to end
    }
    const metrics = await proxy.metrics();
    const w0 = metricValue(metrics, 'proxy_worker_open_connections', { worker: '0' });
    const w1 = metricValue(metrics, 'proxy_worker_open_connections', { worker: '1' });
    assert.equal(w0 + w1, 10);
    assert.ok(Math.abs(w0 - w1) <= 1, `balanced: ${w0} vs ${w1}`);
  });

  it('replaces a worker that dies; its connections are lost, the other worker\'s are not', async (t) => {
    const server = net.createServer((s) => {
      s.on('data', (d) => s.write(d));
      s.on('error', () => {});
    });
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_WORKERS: '2', SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` }, CRASHABLE_PROXY);
    const clients: net.Socket[] = [];
    t.after(async () => {
      for (const c of clients) c.destroy();
      await proxy.stop();
      await closeServer(server);
    });
    const echo = async (socket: net.Socket, text: string): Promise<string> => {
      const reply = once(socket, 'data', { signal: AbortSignal.timeout(5000) });
      socket.write(text);
      return String(((await reply) as [Buffer])[0]);
    };
    // Least open connections first, lowest index on ties: the first tunnel lands on worker 0, the second on worker 1.
    const onWorker0 = await connect(proxy.outbound.port);
    clients.push(onWorker0);
    assert.equal(await echo(onWorker0, '\x00zero'), '\x00zero');
    const onWorker1 = await connect(proxy.outbound.port);
    clients.push(onWorker1);
    assert.equal(await echo(onWorker1, '\x00one'), '\x00one');
    let metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'proxy_worker_open_connections', { worker: '0' }), 1);
    assert.equal(metricValue(metrics, 'proxy_worker_open_connections', { worker: '1' }), 1);

    const lost = once(onWorker0, 'close', { signal: AbortSignal.timeout(10_000) });
    crashWorker(proxy);
    await lost;
    await eventually(() => proxy.logs().includes('worker thread exited; starting a new one'), 10_000, 'the pool to log the replacement');
    assert.match(proxy.logs(), /crash injected by the test into worker 0/);

    // The other worker's tunnel carries on, on the same connection.
    assert.equal(await echo(onWorker1, '\x00still here'), '\x00still here');
    // New connections are served, the replacement takes its share, and the process never exited.
    for (let i = 0; i < 4; i++) {
      const socket = await connect(proxy.outbound.port);
      clients.push(socket);
      assert.equal(await echo(socket, `\x00new ${i}`), `\x00new ${i}`);
    }
    metrics = await proxy.metrics();
    // The replacement starts from 0 open connections, so of 4 new ones it takes 3 and worker 1 one
    // (0:1 → 1:1 → tie → 2:1 → 2:2 → tie → 3:2).
    assert.equal(metricValue(metrics, 'proxy_worker_open_connections', { worker: '0' }), 3, 'the replacement counts from 0 and takes new connections');
    assert.equal(metricValue(metrics, 'proxy_worker_open_connections', { worker: '1' }), 2);
    assert.equal(proxy.child.exitCode, null);
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests with Connection: close, refuses new connections, exits 0', async (t) => {
    let release: (() => void) | undefined;
    const backend = http.createServer((req, res) => {
      if (req.url === '/slow') release = () => res.end('finished');
      else res.end('fast');
    });
    const port = await listen(backend);
    t.after(() => closeServer(backend));
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });

    const socket = await connect(proxy.outbound.port);
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    while (release === undefined) await new Promise((r) => setTimeout(r, 10));
    const exit = proxy.stop('SIGTERM');
    // The listeners close as the proxy says it is draining.
    await eventually(() => proxy.logs().includes('shutting down: no new connections'), 5000, 'the proxy to start draining');
    await assert.rejects(connect(proxy.outbound.port), /ECONNREFUSED/, 'no new connections once draining');
    release();
    const response = await collect(socket, undefined, 5000);
    assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(response, /\r\nConnection: close\r\n/i);
    assert.match(response, /finished$/);
    assert.equal(await exit, 0);
  });

  it('closes what remains when the grace period ends', async (t) => {
    let upstreamBytes = 0;
    const server = net.createServer((s) => s.on('data', (chunk: Buffer) => (upstreamBytes += chunk.length)));
    const port = await listen(server);
    t.after(() => closeServer(server));
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`, SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD: '500ms' });
    const socket = await connect(proxy.outbound.port);
    socket.write('\x00 a tunnel that never ends');
    await eventually(() => upstreamBytes > 0, 5000, 'the tunnel to reach the upstream');
    const started = Date.now();
    const closed = collect(socket, undefined, 10_000);
    assert.equal(await proxy.stop('SIGTERM'), 0);
    await closed;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 400 && elapsed < 5000, `closed after the grace period (${elapsed} ms)`);
  });

  it('answers /ready with 503 while draining, and a second SIGINT exits at once', async (t) => {
    let upstreamBytes = 0;
    const server = net.createServer((s) => s.on('data', (chunk: Buffer) => (upstreamBytes += chunk.length)));
    const port = await listen(server);
    t.after(() => closeServer(server));
    // A grace period far longer than the test: only the second SIGINT can end the process in time.
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`, SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD: '10m' });
    t.after(() => proxy.child.kill('SIGKILL'));
    const ready = await adminRequest(proxy.admin.port, 'GET', '/ready');
    assert.deepEqual([ready.status, String(ready.body).trim()], [200, 'ready']);
    const socket = await connect(proxy.outbound.port);
    t.after(() => socket.destroy());
    socket.write('\x00 a tunnel that keeps the proxy draining');
    await eventually(() => upstreamBytes > 0, 5000, 'the tunnel to reach the upstream');

    proxy.child.kill('SIGINT');
    await eventually(() => proxy.logs().includes('shutting down: no new connections'), 5000, 'the proxy to start draining');
    const draining = await adminRequest(proxy.admin.port, 'GET', '/ready');
    assert.equal(draining.status, 503, 'not ready while draining');
    assert.equal((await adminRequest(proxy.admin.port, 'GET', '/live')).status, 200, 'still live while draining');
    assert.equal(proxy.child.exitCode, null, 'the open tunnel holds the drain');

    const exited = once(proxy.child, 'exit', { signal: AbortSignal.timeout(5000) });
    proxy.child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 130);
    assert.match(proxy.logs(), /second interrupt: exiting without draining/);
  });
});

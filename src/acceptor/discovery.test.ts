// The proxy's control-plane client through the real proxy and a fake Destination service: names the
// controller does not know and a controller that is down take the original destination; a controller
// that dies leaves the last endpoints in force; one that comes back is reconnected to and its changes
// apply; streams are shared by workers and closed when idle.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { eventually, send, startBackend, who, type Backend } from '../../test/support/backends.ts';
import { FakeDestination } from '../../test/support/fake-destination.ts';
import { listen } from '../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../test/support/proxy.ts';

const WEB = 'web.default.svc.cluster.local';
const WEB_AUTH = `${WEB}:80`;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('with the controller', () => {
  let fake: FakeDestination;
  let mesh: Backend;
  let other: Backend;
  let original: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    [mesh, other, original] = await Promise.all([startBackend('mesh'), startBackend('other'), startBackend('original')]);
    fake.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: mesh.port }]);
    fake.setError('unknown.default.svc.cluster.local:80', grpc.status.NOT_FOUND);
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      // Stands in for the original destination (no iptables here).
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${original.port}`,
      SLUICE_PROXY_WORKERS: '2',
      SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '500ms',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await Promise.all([mesh.close(), other.close(), original.close()]);
  });

  it('reaches an endpoint the controller gives a TLS identity in plaintext while the proxy holds none', async () => {
    const MESHED = 'meshed.default.svc.cluster.local';
    // A plain HTTP/1 server stands in for the meshed pod: no h2 hint, which would send it HTTP/2 (orig-proto).
    fake.setEndpoints(`${MESHED}:80`, [{ host: '127.0.0.1', port: mesh.port, identity: 'meshed.default.serviceaccount.identity.sluice.cluster.local', h2Hint: false }]);
    assert.equal(who(await send(proxy.outbound.port, MESHED)), 'mesh');
    const text = await proxy.metrics();
    assert.ok(text.split('\n').some((l) => l.startsWith('request_total{') && l.includes(`authority="${MESHED}"`) && l.includes('tls="disabled"')), text);
  });

  it('shares one Get and one GetProfile stream per name among the workers', async () => {
    // Each request on its own connection: the acceptor spreads connections over both workers.
    const replies = await Promise.all(Array.from({ length: 12 }, () => send(proxy.outbound.port, WEB).then(who)));
    assert.deepEqual(new Set(replies), new Set(['mesh']));
    for (let i = 0; i < 12; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'mesh');
    assert.equal(fake.calls.filter((c) => c.method === 'Get' && c.path === WEB_AUTH).length, 1);
    assert.equal(fake.open('Get', WEB_AUTH), 1);
    assert.equal(fake.open('GetProfile', WEB_AUTH), 1);
  });

  it('sends a name the controller does not know (NotFound) to the original destination', async () => {
    const reply = await send(proxy.outbound.port, 'unknown.default.svc.cluster.local', { path: '/nf' });
    assert.equal(who(reply), 'original');
    assert.ok(fake.calls.some((c) => c.method === 'Get' && c.path === 'unknown.default.svc.cluster.local:80'));
  });

  it('never asks about names outside the profile suffixes', async () => {
    const reply = await send(proxy.outbound.port, 'example.invalid', { path: '/outside' });
    assert.equal(who(reply), 'original');
    assert.ok(!fake.calls.some((c) => c.path.startsWith('example.invalid')));
  });

  // One test, not two in a row: the second half needs the state the first half leaves.
  it('keeps the last endpoints while the controller is down, then reconnects and applies what changed meanwhile', async () => {
    // The proxy has learned WEB's endpoints (whatever ran before).
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'mesh', 10_000, 'routing by the controller');
    await fake.stop();
    for (let i = 0; i < 20; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'mesh');
    await eventually(() => proxy.logs().includes('destination stream lost; keeping the last state and reconnecting'), 10_000, 'the loss to be logged');
    for (let i = 0; i < 10; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'mesh');

    fake.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: other.port }]);
    await fake.restart();
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'other', 15_000, 'the new endpoint after the restart');
    for (let i = 0; i < 10; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'other');
  });
});

describe('with the controller down from the start', () => {
  let port: number;
  let mesh: Backend;
  let original: Backend;
  let proxy: RunningProxy;
  let fake: FakeDestination | undefined;

  before(async () => {
    port = await freePort();
    [mesh, original] = await Promise.all([startBackend('mesh'), startBackend('original')]);
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${port}`,
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${original.port}`,
      SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '500ms',
      // Far above what a request may take here: a request held for it would show.
      SLUICE_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT: '20s',
      SLUICE_PROXY_WORKERS: '0',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake?.stop();
    await Promise.all([mesh.close(), original.close()]);
  });

  it('routes to the original destination without waiting out the initial timeout', async () => {
    // A refused connection is an answer: nothing waits for the (20 s) initial timeout.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      assert.equal(who(await send(proxy.outbound.port, WEB)), 'original');
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 3000, `request ${i} took ${elapsed} ms: it waited for the controller`);
    }
  });

  it('uses the controller once it comes up', async () => {
    const fresh = new FakeDestination();
    fresh.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: mesh.port }]);
    fresh.port = port;
    await fresh.restart();
    fake = fresh;
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'mesh', 15_000, 'routing by the controller');
  });
});

describe('idle destinations', () => {
  let fake: FakeDestination;
  let mesh: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    mesh = await startBackend('mesh');
    fake.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: mesh.port }]);
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      SLUICE_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT: '300ms',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await mesh.close();
  });

  it('closes the streams of a name no request has used for the idle timeout, and opens them again on use', async () => {
    assert.equal(who(await send(proxy.outbound.port, WEB)), 'mesh');
    assert.equal(fake.open('Get', WEB_AUTH), 1);
    await eventually(() => fake.open('Get', WEB_AUTH) === 0 && fake.open('GetProfile', WEB_AUTH) === 0, 10_000, 'the streams to close');
    assert.equal(who(await send(proxy.outbound.port, WEB)), 'mesh');
    assert.equal(fake.calls.filter((c) => c.method === 'Get' && c.path === WEB_AUTH).length, 2);
  });
});

describe('a controller that never answers', () => {
  let fake: FakeDestination;
  let original: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    fake.hang(WEB_AUTH);
    original = await startBackend('original');
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${original.port}`,
      SLUICE_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT: '300ms',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await original.close();
  });

  it('holds a request no longer than the initial timeout, then routes it without the controller', async () => {
    const started = Date.now();
    const reply = await send(proxy.outbound.port, WEB);
    const elapsed = Date.now() - started;
    assert.equal(who(reply), 'original');
    // It did wait for the controller (300 ms, timers may fire a little early), and not much longer.
    assert.ok(elapsed >= 250 && elapsed < 3000, `held for ${elapsed} ms; the initial timeout is 300 ms`);
  });
});

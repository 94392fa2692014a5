// Control-plane-driven balancing through the real proxy, with a fake Destination service: requests to a
// name the controller resolves spread over its endpoints (P2C over peak-EWMA), a slow endpoint gets
// less, endpoint changes apply to the next request without failing the ones in flight, metrics carry
// the endpoints' dst_* labels, and TCP picks an endpoint per connection.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, send, startBackend, who, type Backend } from '../../../../test/support/backends.ts';
import { FakeDestination } from '../../../../test/support/fake-destination.ts';
import { closeServer, listen } from '../../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';
import { keepSending, observe, tapClient } from '../../../../test/support/tap.ts';

const WEB = 'web.default.svc.cluster.local';
const WEB_AUTH = `${WEB}:80`;

/**
 * Sends requests for `path` one after the other without waiting for their answers, until `done()`;
 * returns the answers to come (who answered each).
 */
async function sendUntil(proxyPort: number, path: string, done: () => boolean): Promise<Array<Promise<string>>> {
  const inflight: Array<Promise<string>> = [];
  await eventually(async () => {
    inflight.push(send(proxyPort, WEB, { path }).then(who));
    await new Promise((r) => setTimeout(r, 15));
    return done();
  }, 15_000, `requests to ${path} to reach the endpoints wanted`);
  return inflight;
}

describe('balancing over the endpoints the Destination service reports', () => {
  let fake: FakeDestination;
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    [a, b, c] = await Promise.all([startBackend('a'), startBackend('b'), startBackend('c')]);
    fake.setEndpoints(
      WEB_AUTH,
      [
        { host: '127.0.0.1', port: a.port, labels: { pod: 'web-a', deployment: 'web' } },
        { host: '127.0.0.1', port: b.port, labels: { pod: 'web-b', deployment: 'web' } },
      ],
      { namespace: 'default', service: 'web' },
    );
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      SLUICE_PROXY_DESTINATION_CONTEXT: '{"ns":"default","nodeName":"node-1","pod":"client-0"}',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('asks the controller once per name, with the context token, and spreads requests over every endpoint', async () => {
    // Requests held by both backends: an endpoint's requests in flight raise its cost, so P2C must
    // turn to the other one, whatever their latencies.
    a.hold = b.hold = (url) => url === '/spread';
    const inflight = await sendUntil(proxy.outbound.port, '/spread', () => a.seen.includes('GET /spread') && b.seen.includes('GET /spread'));
    a.release();
    b.release();
    const results = await Promise.all(inflight);
    assert.ok(results.includes('a') && results.includes('b') && results.every((r) => r === 'a' || r === 'b'), JSON.stringify(results));
    for (let i = 0; i < 40; i++) assert.ok(['a', 'b'].includes(who(await send(proxy.outbound.port, WEB, { path: `/r/${i}` }))));
    const gets = fake.calls.filter((call) => call.method === 'Get' && call.path === WEB_AUTH);
    assert.equal(gets.length, 1);
    assert.equal(gets[0]?.contextToken, '{"ns":"default","nodeName":"node-1","pod":"client-0"}');
    assert.equal(fake.calls.filter((call) => call.method === 'GetProfile' && call.path === WEB_AUTH).length, 1);
  });

  it('labels outbound metrics with the endpoints’ dst_* labels', async () => {
    const text = await proxy.metrics();
    const forA = metricValue(text, 'request_total', { direction: 'outbound', dst_pod: 'web-a', dst_service: 'web', dst_namespace: 'default' });
    const forB = metricValue(text, 'response_total', { direction: 'outbound', dst_pod: 'web-b', dst_deployment: 'web', classification: 'success' });
    assert.ok(forA > 0 && forB > 0, `${forA} ${forB}`);
    // Requests that match no profile route are counted under the default route (no rt_* labels).
    assert.ok(metricValue(text, 'route_request_total', { direction: 'outbound', dst: WEB_AUTH }) >= 40);
  });

  it('reports the chosen endpoint and its labels in tap events', async () => {
    assert.ok(proxy.tap !== undefined);
    const client = tapClient(proxy.tap);
    const tap = observe(client, { limit: 1 });
    await keepSending(() => send(proxy.outbound.port, WEB, { path: '/tapped' }), () => tap.events.length > 0);
    await tap.ended;
    client.close();
    const first = tap.events[0] as Record<string, any>;
    assert.ok([a.port, b.port].includes(Number(first['destination']['port'])), JSON.stringify(first['destination']));
    assert.equal(first['destination_meta']['labels']['deployment'], 'web');
    assert.equal(first['destination_meta']['labels']['service'], 'web');
  });

  it('sends less to a slow endpoint (peak-EWMA)', async () => {
    b.delayMs = 300;
    const before = { a: a.seen.length, b: b.seen.length };
    for (let i = 0; i < 60; i++) await send(proxy.outbound.port, WEB);
    b.delayMs = 0;
    const toA = a.seen.length - before.a;
    const toB = b.seen.length - before.b;
    assert.equal(toA + toB, 60);
    assert.ok(toB < toA / 3, `slow endpoint got ${toB}, fast one ${toA}`);
  });

  it('applies an added endpoint to the next requests', async () => {
    fake.setEndpoints(WEB_AUTH, [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
      { host: '127.0.0.1', port: c.port, labels: { pod: 'web-c' } },
    ]);
    // The new endpoint starts at the default 30 ms while the others answer in a few: held requests
    // on the others make it the cheaper choice soon (and prove the update arrived).
    a.hold = b.hold = (url) => url === '/add';
    const inflight = await sendUntil(proxy.outbound.port, '/add', () => c.seen.includes('GET /add'));
    a.release();
    b.release();
    const results = await Promise.all(inflight);
    assert.ok(results.includes('c') && results.every((r) => ['a', 'b', 'c'].includes(r)), JSON.stringify(results));
  });

  it('stops sending to removed endpoints at once, and lets their requests in flight finish', async () => {
    const d = await startBackend('d');
    a.hold = b.hold = c.hold = (url) => url === '/long';
    const inflight = await sendUntil(proxy.outbound.port, '/long', () => a.seen.includes('GET /long'));
    b.release();
    c.release();
    // a, b and c leave, d arrives, in one update: once d answers, the update is in force.
    fake.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: d.port }]);
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'd', 10_000, 'the endpoint of the new set');
    const before = [a.seen.length, b.seen.length, c.seen.length];
    for (let i = 0; i < 30; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'd');
    assert.deepEqual([a.seen.length, b.seen.length, c.seen.length], before, 'no request reached a removed endpoint');
    a.release();
    const results = await Promise.all(inflight);
    assert.ok(results.includes('a'), 'the held request completed on the removed endpoint');
    // Every request an endpoint took before it was removed completed there; a request that had not yet
    // been dispatched when the update arrived went to the new endpoint. None failed.
    const longSeen = (backend: Backend): number => backend.seen.filter((line) => line === 'GET /long').length;
    const count = (name: string): number => results.filter((r) => r === name).length;
    assert.deepEqual([count('a'), count('b'), count('c')], [longSeen(a), longSeen(b), longSeen(c)], JSON.stringify(results));
    assert.ok(results.every((r) => r === 'a' || r === 'b' || r === 'c' || r === 'd'), JSON.stringify(results));
    // Its connections close once their last exchange is over, instead of going back to the pool.
    const open = (): Promise<number> => new Promise((resolve) => a.server.getConnections((_, n) => resolve(n)));
    await eventually(async () => (await open()) === 0, 10_000, 'the removed endpoint’s connections to close');
    await d.close();
  });

  it('answers 503 when the service has no endpoints, and recovers when one comes back', async () => {
    fake.setEndpoints(WEB_AUTH, []);
    await eventually(async () => (await send(proxy.outbound.port, WEB)).status === 503, 10_000, 'a 503');
    const reply = await send(proxy.outbound.port, WEB);
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['sluice-proxy-error'], 'service has no endpoints');
    fake.setEndpoints(WEB_AUTH, [{ host: '127.0.0.1', port: c.port }]);
    await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'c', 10_000, 'the endpoint back');
  });
});

describe('TCP to a cluster IP, balanced per connection', () => {
  let fake: FakeDestination;
  let echoes: net.Server[];
  let ports: number[];
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    // Each answers a connection's first bytes with its name and keeps the connection open.
    echoes = ['x', 'y'].map((name) =>
      net.createServer((socket) => {
        socket.once('data', () => socket.write(name));
        socket.on('error', () => {});
      }),
    );
    ports = await Promise.all(echoes.map((s) => listen(s)));
    // The connection's destination (here the forward address, as if it were a ClusterIP) is looked up
    // with GetProfile; its fully qualified name then gives the endpoints.
    const clusterIp = `127.0.0.1:${ports[0]}`;
    fake.setProfile(clusterIp, { fullyQualifiedName: 'tcp.default.svc.cluster.local' });
    fake.setEndpoints(`tcp.default.svc.cluster.local:${ports[0]}`, ports.map((port) => ({ host: '127.0.0.1', port })));
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      SLUICE_PROXY_DESTINATION_PROFILE_NETWORKS: '127.0.0.0/8',
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: clusterIp,
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await Promise.all(echoes.map((s) => closeServer(s)));
  });

  it('sends each connection to one endpoint of the service, spreading open connections over both', async () => {
    const sockets: net.Socket[] = [];
    const seen: string[] = [];
    // Every open connection is load on its endpoint, so the other one is chosen before long.
    await eventually(async () => {
      const socket = net.connect(proxy.outbound.port, '127.0.0.1');
      sockets.push(socket);
      // Not HTTP: the proxy treats it as opaque TCP once it sees these bytes.
      socket.write('\x00\x01hello\r\n');
      socket.setEncoding('utf8');
      seen.push(await new Promise<string>((resolve, reject) => {
        socket.once('data', resolve);
        socket.once('error', reject);
      }));
      return seen.includes('x') && seen.includes('y');
    }, 15_000, 'connections to both endpoints');
    for (const socket of sockets) socket.destroy();
    assert.ok(seen.every((name) => name === 'x' || name === 'y'), JSON.stringify(seen));
    assert.ok(fake.calls.some((call) => call.method === 'Get' && call.path === `tcp.default.svc.cluster.local:${ports[0]}`));
  });
});

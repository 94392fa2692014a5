// The proxy's Tap server (io.linkerd.proxy.tap.Tap/Observe) with a real grpc-js client and real traffic
// through the real proxy process: events in order with their fields, matches, limit, headers, gRPC
// status and resets, cancellation, a slow caller, and the configuration that turns it off.
import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { parseProxyConfig } from '../config/proxy-config.ts';
import { MAX_QUEUED } from './tap-server.ts';
import { closeServer, listen } from '../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../test/support/proxy.ts';
import { bodyOf, keepSending, kindOf, observe, stalledObserve, tapClient, type Event } from '../../test/support/tap.ts';

const LOCALHOST_V4 = 0x7f000001;

function get(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A backend answering 201 `hello` (or 500 for /fail) with an `x-backend` header. */
function backend(): http.Server {
  return http.createServer((req, res) => {
    const status = req.url?.startsWith('/fail') ? 500 : 201;
    res.writeHead(status, { 'x-backend': 'yes', 'content-type': 'text/plain' });
    res.end('hello');
  });
}

/** Events grouped by stream id, in arrival order. */
function byStream(events: readonly Event[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) {
    const id = `${bodyOf(e)['id']?.['base']}:${bodyOf(e)['id']?.['stream']}`;
    out.set(id, [...(out.get(id) ?? []), kindOf(e)]);
  }
  return out;
}

function header(headers: Event | undefined, name: string): string | undefined {
  const found = (headers?.['headers'] as Event[] | undefined)?.find((h) => h['name'] === name);
  return found === undefined ? undefined : Buffer.from(found['value'] as Uint8Array).toString();
}

for (const workers of ['2', '0']) {
  describe(`Tap over HTTP/1 (SLUICE_PROXY_WORKERS=${workers})`, () => {
    let proxy: RunningProxy;
    let server: http.Server;
    let port: number;
    let client: grpc.Client;

    before(async () => {
      server = backend();
      port = await listen(server);
      proxy = await startProxy({
        SLUICE_PROXY_WORKERS: workers,
        SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`,
        SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${port}`,
      });
      assert.ok(proxy.tap !== undefined, 'the ready line names the tap address');
      client = tapClient(proxy.tap);
    });
    after(async () => {
      client?.close();
      await proxy?.stop();
      await closeServer(server);
    });

    it('emits request_init, response_init and response_end of a request, in order, then ends at the limit', async () => {
      const tap = observe(client, { limit: 1 });
      let ended = false;
      void tap.ended.then(() => (ended = true));
      await keepSending(() => get(proxy.outbound.port, '/hello?q=1', { host: `127.0.0.1:${port}` }), () => tap.events.length > 0);
      const status = await tap.ended;
      assert.equal(status.code, grpc.status.OK);
      assert.ok(ended);
      assert.deepEqual(tap.events.map(kindOf), ['request_init', 'response_init', 'response_end']);

      const [req, rsp, end] = tap.events.map(bodyOf) as [Event, Event, Event];
      const first = tap.events[0] as Event;
      assert.equal(first['proxy_direction'], 'OUTBOUND');
      assert.deepEqual(first['source']['ip'], { ipv4: LOCALHOST_V4, ip: 'ipv4' });
      assert.ok(first['source']['port'] > 0);
      assert.deepEqual(first['destination'], { ip: { ipv4: LOCALHOST_V4, ip: 'ipv4' }, port });
      assert.equal(first['destination_meta']['labels']['tls'], 'disabled');

      assert.deepEqual(req['method'], { registered: 'GET', type: 'registered' });
      assert.deepEqual(req['scheme'], { registered: 'HTTP', type: 'registered' });
      assert.equal(req['authority'], `127.0.0.1:${port}`);
      assert.equal(req['path'], '/hello', 'the path without its query, as Linkerd reports it');
      assert.equal(req['headers'], undefined, 'no headers unless extract asks for them');
      assert.ok(Number(req['id']['stream']) > 0);

      assert.deepEqual(rsp['id'], req['id']);
      assert.equal(rsp['http_status'], 201);
      assert.ok(rsp['since_request_init'] !== undefined);

      assert.deepEqual(end['id'], req['id']);
      assert.equal(end['response_bytes'], '5');
      assert.equal(end['eos'], undefined);
      assert.ok(end['since_request_init'] !== undefined && end['since_response_init'] !== undefined);
      const ns = (d: Event): number => Number(d['seconds'] ?? 0) * 1e9 + Number(d['nanos'] ?? 0);
      assert.ok(ns(end['since_request_init']) >= ns(rsp['since_request_init']));
    });

    it('ends after `limit` requests have completed, counting across worker threads', async () => {
      const tap = observe(client, { limit: 3 });
      let ended = false;
      void tap.ended.then(() => (ended = true));
      // Several clients at once, so requests land on different workers.
      await keepSending(
        () => Promise.all([1, 2, 3].map(() => get(proxy.outbound.port, '/limit', { host: `127.0.0.1:${port}` }))),
        () => ended,
      );
      assert.equal((await tap.ended).code, grpc.status.OK);
      const streams = byStream(tap.events);
      assert.equal(streams.size, 3);
      for (const kinds of streams.values()) assert.deepEqual(kinds, ['request_init', 'response_init', 'response_end']);
    });

    it('selects only requests that match (path prefix, method, authority, not)', async () => {
      const match = {
        all: {
          matches: [
            { http: { path: { prefix: '/api/' } } },
            { http: { method: { registered: 'GET' } } },
            { http: { authority: { exact: `LOCALHOST:${port}` } } },
            { not: { http: { path: { exact: '/api/skip' } } } },
          ],
        },
      };
      const tap = observe(client, { match });
      const paths = ['/api/a', '/other', '/api/skip', '/api/b'];
      let i = 0;
      await keepSending(
        () => get(proxy.outbound.port, paths[i++ % paths.length] as string, { host: `localhost:${port}` }),
        () => tap.events.filter((e) => kindOf(e) === 'response_end').length >= 4,
      );
      // A request to another authority never matches.
      await get(proxy.outbound.port, '/api/a', { host: `127.0.0.1:${port}` });
      tap.close();
      const seen = new Set(tap.events.filter((e) => kindOf(e) === 'request_init').map((e) => bodyOf(e)['path'] as string));
      assert.deepEqual([...seen].sort(), ['/api/a', '/api/b']);
      for (const e of tap.events.filter((e) => kindOf(e) === 'request_init')) assert.equal(bodyOf(e)['authority'], `localhost:${port}`);
    });

    it('matches source and destination by netmask and ports', async () => {
      const match = {
        all: {
          matches: [
            { source: { netmask: { ip: { ipv4: LOCALHOST_V4 }, mask: 8 } } },
            { destination: { ports: { min: port, max: port } } },
          ],
        },
      };
      const tap = observe(client, { match, limit: 1 });
      await keepSending(() => get(proxy.outbound.port, '/net', { host: `127.0.0.1:${port}` }), () => tap.events.length > 0);
      assert.equal((await tap.ended).code, grpc.status.OK);

      // A destination port range that excludes the backend selects nothing, while a catch-all does.
      const none = observe(client, { match: { destination: { ports: { min: 1, max: port - 1 } } } });
      const all = observe(client, { limit: 2 });
      await keepSending(() => get(proxy.outbound.port, '/net', { host: `127.0.0.1:${port}` }), () => all.events.length >= 6);
      await all.ended;
      none.close();
      await none.ended;
      assert.equal(none.events.length, 0);
    });

    it('reports inbound requests as INBOUND with the tls label on the source', async () => {
      const tap = observe(client, { limit: 1 });
      await keepSending(() => get(proxy.inbound.port, '/in'), () => tap.events.length > 0);
      await tap.ended;
      const first = tap.events[0] as Event;
      assert.equal(first['proxy_direction'], 'INBOUND');
      assert.equal(first['source_meta']['labels']['tls'], 'disabled');
      assert.deepEqual(first['destination'], { ip: { ipv4: LOCALHOST_V4, ip: 'ipv4' }, port });
    });

    it('includes request and response headers only when extract asks for them', async () => {
      const tap = observe(client, { limit: 1, extract: { http: { headers: {} } } });
      await keepSending(() => get(proxy.outbound.port, '/h', { host: `127.0.0.1:${port}`, 'x-client': 'abc' }), () => tap.events.length > 0);
      await tap.ended;
      const [req, rsp] = tap.events.map(bodyOf) as [Event, Event];
      assert.equal(header(req['headers'], 'x-client'), 'abc');
      assert.equal(header(rsp['headers'], 'x-backend'), 'yes');
    });

    it('sees the answers the proxy makes itself (a 5xx from upstream, a refused connect)', async () => {
      const tap = observe(client, { match: { http: { path: { prefix: '/fail' } } }, limit: 1 });
      await keepSending(() => get(proxy.outbound.port, '/fail', { host: `127.0.0.1:${port}` }), () => tap.events.length > 0);
      await tap.ended;
      assert.equal(bodyOf(tap.events[1] as Event)['http_status'], 500);

      const closed = http.createServer();
      const deadPort = await listen(closed);
      await closeServer(closed);
      const refused = observe(client, { match: { destination: { ports: { min: deadPort } } }, limit: 1 });
      await keepSending(() => get(proxy.outbound.port, '/refused', { host: `127.0.0.1:${deadPort}` }), () => refused.events.length > 0);
      await refused.ended;
      assert.deepEqual(refused.events.map(kindOf), ['request_init', 'response_init', 'response_end']);
      assert.equal(bodyOf(refused.events[1] as Event)['http_status'], 502);
    });

    it('emits nothing while no tap is installed, and uninstalls the tap of a caller that goes away', async () => {
      const before = await proxy.metrics();
      const activeBefore = metricValue(before, 'tap_observe_active');
      await get(proxy.outbound.port, '/quiet', { host: `127.0.0.1:${port}` });

      const tap = observe(client, {});
      await keepSending(() => get(proxy.outbound.port, '/watched', { host: `127.0.0.1:${port}` }), () => tap.events.length > 0);
      assert.ok(tap.events.every((e) => kindOf(e) !== 'request_init' || bodyOf(e)['path'] === '/watched'));
      assert.equal(metricValue(await proxy.metrics(), 'tap_observe_active'), activeBefore + 1);
      tap.close();
      assert.equal((await tap.ended).code, grpc.status.CANCELLED);
      const deadline = Date.now() + 10_000;
      while (metricValue(await proxy.metrics(), 'tap_observe_active') !== activeBefore) {
        assert.ok(Date.now() < deadline, 'the tap was not removed after its caller left');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });

    it('refuses a match it cannot evaluate with INVALID_ARGUMENT', async () => {
      for (const match of [{}, { http: {} }, { destination: { ports: { min: 9, max: 3 } } }, { source: { netmask: { mask: 8 } } }]) {
        const tap = observe(client, { match });
        const status = await tap.ended;
        assert.equal(status.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(match));
      }
    });
  });
}

describe('Tap over HTTP/2 and gRPC', () => {
  const PROTO = fileURLToPath(new URL('../../test/fixtures/grpc/echo.proto', import.meta.url));
  const Echo = ((grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true }))['sluice'] as grpc.GrpcObject)['test'] as grpc.GrpcObject)[
    'Echo'
  ] as grpc.ServiceClientConstructor;
  let proxy: RunningProxy;
  let echoServer: grpc.Server;
  let echo: grpc.Client;
  let client: grpc.Client;

  before(async () => {
    echoServer = new grpc.Server();
    echoServer.addService(Echo.service, {
      Unary(call: grpc.ServerUnaryCall<{ text?: string; fail_code?: number }, object>, callback: grpc.sendUnaryData<object>) {
        if (call.request.fail_code) callback({ code: call.request.fail_code, details: 'asked to fail' });
        else callback(null, { text: call.request.text ?? '' });
      },
      ServerStream(call: grpc.ServerWritableStream<object, object>) {
        // Replies until the caller cancels.
        let index = 0;
        const push = (): void => {
          if (call.cancelled) return;
          call.write({ text: 'x', index: index++ });
          setImmediate(push);
        };
        push();
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      echoServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
    // Straight at the outbound listener: the authority names the proxy, so the forward address is used.
    echo = new Echo(`127.0.0.1:${proxy.outbound.port}`, grpc.credentials.createInsecure());
    client = tapClient(proxy.tap as { host: string; port: number });
  });
  after(async () => {
    echo?.close();
    client?.close();
    await proxy?.stop();
    echoServer?.forceShutdown();
  });

  const unary = (request: object): Promise<grpc.ServiceError | null> =>
    new Promise((resolve) => {
      (echo as unknown as { Unary(r: object, cb: (e: grpc.ServiceError | null) => void): void }).Unary(request, (e) => resolve(e));
    });

  it('reports the gRPC status in response_end, OK or not', async () => {
    const tap = observe(client, { match: { http: { path: { exact: '/sluice.test.Echo/Unary' } } }, limit: 2 });
    let ended = false;
    void tap.ended.then(() => (ended = true));
    let n = 0;
    // Alternating, so the two calls the tap sees (consecutive ones) are one of each.
    await keepSending(() => unary(n++ % 2 === 0 ? { text: 'hi' } : { fail_code: grpc.status.NOT_FOUND }), () => ended);
    assert.equal((await tap.ended).code, grpc.status.OK);
    const inits = tap.events.filter((e) => kindOf(e) === 'request_init').map(bodyOf);
    assert.deepEqual(inits[0]?.['method'], { registered: 'POST', type: 'registered' });
    assert.equal(inits[0]?.['path'], '/sluice.test.Echo/Unary');
    const ends = tap.events.filter((e) => kindOf(e) === 'response_end').map(bodyOf);
    assert.deepEqual(
      ends.map((end) => end['eos']?.['grpc_status_code']).sort(),
      [grpc.status.OK, grpc.status.NOT_FOUND],
      JSON.stringify(ends),
    );
    for (const end of ends) assert.equal(end['eos']['end'], 'grpc_status_code');
    const ok = ends.find((end) => end['eos']['grpc_status_code'] === grpc.status.OK) as Event;
    assert.ok(Number(ok['response_bytes']) > 5, 'the reply message was counted');
  });

  it('reports a client reset as reset_error_code', async () => {
    const tap = observe(client, { match: { http: { path: { exact: '/sluice.test.Echo/ServerStream' } } }, limit: 1 });
    await keepSending(
      async () => {
        const stream = (echo as unknown as { ServerStream(r: object): grpc.ClientReadableStream<unknown> }).ServerStream({ text: 'x', count: 1_000_000 });
        stream.on('error', () => {});
        await new Promise<void>((resolve) => stream.once('data', () => resolve()));
        stream.cancel();
        await new Promise<void>((resolve) => stream.once('status', () => resolve()));
      },
      () => tap.events.some((e) => kindOf(e) === 'request_init'),
    );
    await tap.ended;
    const end = bodyOf(tap.events.find((e) => kindOf(e) === 'response_end') as Event);
    assert.equal(end['eos']?.['reset_error_code'], 8, 'CANCEL');
  });
});

describe('a caller that does not read', () => {
  it('costs a bounded queue: events past it are dropped and counted', async (t) => {
    const server = backend();
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const stalled = stalledObserve(proxy.tap as { host: string; port: number }, { extract: { http: { headers: {} } } });
    t.after(() => stalled.close());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const send = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: proxy.outbound.port, path: `/${'x'.repeat(200)}`, agent, headers: { 'x-pad': 'y'.repeat(500) } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    const deadline = Date.now() + 60_000;
    while (metricValue(await proxy.metrics(), 'tap_events_dropped_total') === 0) {
      assert.ok(Date.now() < deadline, 'no event was ever dropped');
      await Promise.all(Array.from({ length: 200 }, send));
    }
    agent.destroy();
    const text = await proxy.metrics();
    assert.ok(metricValue(text, 'tap_events_dropped_total') > 0);
    assert.equal(metricValue(text, 'tap_observe_active'), 1, 'the slow caller is still being served');
    // Accepted = what the caller took (an HTTP/2 window and a socket buffer: some tens of KiB) + the queue.
    const accepted = metricValue(text, 'tap_events_total');
    assert.ok(accepted >= MAX_QUEUED && accepted < MAX_QUEUED + 500, `accepted ${accepted} events`);
  });
});

describe('configuration', () => {
  it('listens on 0.0.0.0:4190 by default; `off` or an empty value turns Tap off', () => {
    assert.deepEqual(parseProxyConfig({}).tapListen, { host: '0.0.0.0', port: 4190 });
    assert.equal(parseProxyConfig({ SLUICE_PROXY_TAP_LISTEN_ADDR: 'off' }).tapListen, undefined);
    assert.equal(parseProxyConfig({ SLUICE_PROXY_TAP_LISTEN_ADDR: 'OFF' }).tapListen, undefined);
    assert.equal(parseProxyConfig({ SLUICE_PROXY_TAP_LISTEN_ADDR: '' }).tapListen, undefined);
    assert.deepEqual(parseProxyConfig({ SLUICE_PROXY_TAP_LISTEN_ADDR: '[::1]:14190' }).tapListen, { host: '::1', port: 14190 });
    assert.throws(() => parseProxyConfig({ SLUICE_PROXY_TAP_LISTEN_ADDR: '4190' }), /SLUICE_PROXY_TAP_LISTEN_ADDR/);
  });

  it('a proxy with Tap off does not listen for it; one whose tap port is taken still carries traffic', async (t) => {
    const off = await startProxy({ SLUICE_PROXY_TAP_LISTEN_ADDR: 'off' });
    t.after(() => off.stop());
    assert.equal(off.tap, undefined);

    const first = await startProxy();
    t.after(() => first.stop());
    const taken = await startProxy({ SLUICE_PROXY_TAP_LISTEN_ADDR: `127.0.0.1:${first.tap?.port}` });
    t.after(() => taken.stop());
    assert.equal(taken.tap, undefined);
    assert.match(taken.logs(), /cannot listen for tap requests; tap is off/);
  });
});

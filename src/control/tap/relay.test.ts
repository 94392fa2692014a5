// The tap relay against two real proxies: events of both merged into one stream with pod labels added,
// the maxRps share per pod per window, the end of the stream when the caller leaves, and the errors a
// caller gets for a target without pods or with unreachable proxies.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../../log/logger.ts';
import { closeServer, listen } from '../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../test/support/proxy.ts';
import { bodyOf, kindOf } from '../../../test/support/tap.ts';
import type { ControllerConfig } from '../config.ts';
import { PublicApiRegistry, type ControllerContext, type StreamHandler } from '../context.ts';
import type { DiscoveryBackend, PodInfo } from '../discovery/types.ts';
import { tapComponent } from './component.ts';
import { TAP_PORT_LABEL } from './resolve.ts';

type Event = Record<string, any>;

function pod(name: string, tapPort: number | undefined, extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'emojivoto',
    name,
    ip: '127.0.0.1',
    owner: { kind: 'Deployment', name: 'web' },
    serviceAccount: 'web',
    meshed: true,
    phase: 'Running',
    labels: tapPort === undefined ? {} : { [TAP_PORT_LABEL]: String(tapPort) },
    ...extra,
  };
}

/** The TapByResource and Tap handlers the component registers, over a discovery that knows `pods`. */
async function handlers(pods: () => PodInfo[], windowMs: number): Promise<{ byResource: StreamHandler; tap: StreamHandler }> {
  const discovery: DiscoveryBackend = {
    watchService: () => () => {},
    watchProfile: () => () => {},
    pods,
    ready: async () => {},
    close: () => {},
  };
  const ctx: ControllerContext = {
    config: {} as ControllerConfig,
    log: new Logger('warn', 'plain', 'test'),
    discovery,
    proxyApi: new grpc.Server(),
    publicApi: new PublicApiRegistry(),
    addresses: {},
    addMetrics: () => {},
    onClose: () => {},
  };
  await tapComponent({ windowMs })(ctx);
  return { byResource: ctx.publicApi.streams.get('TapByResource') as StreamHandler, tap: ctx.publicApi.streams.get('Tap') as StreamHandler };
}

function get(port: number, path: string, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

const until = async (done: () => boolean, step: () => Promise<unknown>, what: string, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    assert.ok(Date.now() < deadline, `timed out: ${what}`);
    await step();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('tap relay over two proxies', () => {
  const proxies: RunningProxy[] = [];
  const backends: http.Server[] = [];
  const backendPorts: number[] = [];

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const server = http.createServer((_req, res) => res.end('ok'));
      backends.push(server);
      const port = await listen(server);
      backendPorts.push(port);
      proxies.push(await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` }));
    }
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all(backends.map((b) => closeServer(b)));
  });

  const webPods = (): PodInfo[] => proxies.map((p, i) => pod(`web-${i}`, p.tap?.port));
  /** Sends one request through each proxy (each to its own backend). */
  const traffic = (path = '/api/list'): Promise<unknown> =>
    Promise.all(proxies.map((p, i) => get(p.outbound.port, path, `127.0.0.1:${backendPorts[i]}`)));

  it('merges the events of every pod of the target and names the tapped pod in them', async () => {
    const { byResource } = await handlers(webPods, 1000);
    const events: Event[] = [];
    const abort = new AbortController();
    const done = byResource({ target: { resource: { type: 'deploy', namespace: 'emojivoto', name: 'web' } }, maxRps: 100 }, (e) => events.push(e as Event), abort.signal);
    const podsSeen = (): Set<string> => new Set(events.filter((e) => kindOf(e) === 'response_end').map((e) => e['source_meta']['labels']['pod'] as string));
    await until(() => podsSeen().size === 2, () => traffic(), 'events from both pods');
    abort.abort();
    await done;
    assert.deepEqual([...podsSeen()].sort(), ['web-0', 'web-1']);
    const first = events[0] as Event;
    assert.equal(first['proxy_direction'], 'OUTBOUND');
    assert.equal(first['source_meta']['labels']['deployment'], 'web');
    assert.equal(first['source_meta']['labels']['namespace'], 'emojivoto');
    assert.equal(first['destination_meta']['labels']['tls'], 'disabled', "the proxy's own labels are kept");
    // Each stream's events arrive in order, whichever proxy they came from.
    const byId = new Map<string, string[]>();
    for (const e of events) {
      const id = `${bodyOf(e)['id']['base']}:${bodyOf(e)['id']['stream']}`;
      byId.set(id, [...(byId.get(id) ?? []), kindOf(e)]);
    }
    for (const kinds of byId.values()) assert.deepEqual(kinds.slice(0, 1), ['request_init']);
  });

  it('gives each pod its share of maxRps per window (at least 1), and no more', async () => {
    // maxRps 2 over 2 pods: at most 1 request per pod per 1 s window, however much traffic there is.
    const { byResource } = await handlers(webPods, 1000);
    const events: Event[] = [];
    const abort = new AbortController();
    const started = Date.now();
    const done = byResource(
      { target: { resource: { type: 'deployment', namespace: 'emojivoto', name: 'web' } }, maxRps: 2 },
      (e) => events.push(e as Event),
      abort.signal,
    );
    const ends = (): Event[] => events.filter((e) => kindOf(e) === 'response_end');
    await until(() => ends().length >= 2, () => traffic('/first'), 'one request from each pod');
    for (let i = 0; i < 30; i++) await traffic('/more');
    // Let the last observed request's response_end arrive before leaving.
    const inFlight = (): boolean => events.filter((e) => kindOf(e) === 'request_init').length !== ends().length;
    await until(() => !inFlight(), () => new Promise((resolve) => setTimeout(resolve, 10)), 'the last response_end');
    abort.abort();
    await done;
    const elapsed = Date.now() - started;
    const inits = events.filter((e) => kindOf(e) === 'request_init');
    // Windows begun so far (each pod's first window began at the start), one request per pod in each.
    const bound = 2 * (Math.floor(elapsed / 1000) + 1);
    assert.ok(inits.length >= 2 && inits.length <= bound, `${inits.length} requests observed in ${elapsed} ms (bound ${bound})`);
    assert.ok(inits.length < 60, 'far fewer than were sent');
    // Whole requests only: every observed request has its response_end.
    const ids = (list: Event[]): string[] => list.map((e) => `${bodyOf(e)['id']['base']}:${bodyOf(e)['id']['stream']}`).sort();
    assert.deepEqual(ids(ends()), ids(inits));
  });

  it('passes the match on, and ends the proxies’ calls when the caller goes away', async () => {
    const { byResource } = await handlers(webPods, 1000);
    const events: Event[] = [];
    const abort = new AbortController();
    const done = byResource(
      {
        target: { resource: { type: 'po', namespace: 'emojivoto', name: 'web-1' } },
        match: { all: { matches: [{ http: { path: '/api/' } }, { http: { method: 'get' } }] } },
      },
      (e) => events.push(e as Event),
      abort.signal,
    );
    const paths = ['/api/vote', '/other'];
    let n = 0;
    await until(() => events.filter((e) => kindOf(e) === 'response_end').length >= 3, () => traffic(paths[n++ % 2]), 'matching events');
    assert.ok(events.every((e) => e['source_meta']['labels']['pod'] === 'web-1'), 'only the targeted pod');
    assert.ok(events.filter((e) => kindOf(e) === 'request_init').every((e) => bodyOf(e)['path'] === '/api/vote'));
    const tapProxy = proxies[1] as RunningProxy;
    assert.equal(metricValue(await tapProxy.metrics(), 'tap_observe_active'), 1);
    abort.abort();
    await done;
    const deadline = Date.now() + 10_000;
    while (metricValue(await tapProxy.metrics(), 'tap_observe_active') !== 0) {
      assert.ok(Date.now() < deadline, 'the proxy still has the tap');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('serves Conduit’s flat TapRequest too', async () => {
    const { tap } = await handlers(webPods, 1000);
    const events: Event[] = [];
    const abort = new AbortController();
    const done = tap({ deployment: 'emojivoto/web', method: 'GET', toPort: backendPorts[0] }, (e) => events.push(e as Event), abort.signal);
    await until(() => events.some((e) => kindOf(e) === 'response_end'), () => traffic(), 'an event');
    abort.abort();
    await done;
    assert.ok(events.every((e) => e['destination']['port'] === backendPorts[0]));
  });

  it('refuses a target without tappable pods (NOT_FOUND) and reports unreachable proxies (UNAVAILABLE)', async () => {
    const none = await handlers(() => [pod('web-x', 1, { meshed: false }), pod('web-y', 1, { phase: 'Pending' })], 1000);
    await assert.rejects(
      none.byResource({ target: { resource: { type: 'deploy', namespace: 'emojivoto', name: 'web' } } }, () => {}, new AbortController().signal),
      (error: { code: number; message: string }) => {
        assert.equal(error.code, grpc.status.NOT_FOUND);
        assert.match(error.message, /no pods to tap for deployment\/web in namespace emojivoto \(2 found: 1 without a Sluice proxy, 1 not running\)/);
        return true;
      },
    );
    await assert.rejects(
      none.byResource({ target: { resource: { type: 'svc', name: 'web' } } }, () => {}, new AbortController().signal),
      (error: { code: number }) => error.code === grpc.status.INVALID_ARGUMENT,
    );

    const closed = http.createServer();
    const deadPort = await listen(closed);
    await closeServer(closed);
    const unreachable = await handlers(() => [pod('web-z', deadPort)], 1000);
    await assert.rejects(
      unreachable.byResource({ target: { resource: { type: 'deploy', namespace: 'emojivoto', name: 'web' } } }, () => {}, new AbortController().signal),
      (error: { code: number; message: string }) => {
        assert.equal(error.code, grpc.status.UNAVAILABLE);
        assert.match(error.message, new RegExp(`emojivoto/web-z \\(127\\.0\\.0\\.1:${deadPort}\\)`));
        return true;
      },
    );
  });
});

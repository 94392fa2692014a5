// Destination over real gRPC: a grpc-js client against the service backed by FileDiscovery (a temp
// copy of the example fixture, edited during the tests) or by the in-memory FakeBackend.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FileDiscovery } from '../discovery/file/file-discovery.ts';
import type { Endpoint } from '../discovery/types.ts';
import { decodeTcpAddress } from './addr.ts';
import { controllerDefaults } from '../config.ts';
import { PublicApiRegistry } from '../context.ts';
import { destinationComponent } from './component.ts';
import {
  destinationClient,
  eventually,
  FakeBackend,
  quietLog,
  startDestination,
  StreamReader,
  type Harness,
} from './testkit.ts';

const FIXTURE = readFileSync(new URL('../discovery/file/testdata/emojivoto.yaml', import.meta.url), 'utf8');
const WEB = 'web-svc.emojivoto.svc.cluster.local:80';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const addrOf = (a: unknown): string => {
  const { ip, port } = decodeTcpAddress(a);
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
};
/** `+addr…`, `-addr…` or `none(exists)` for one Update. */
function describeUpdate(update: Msg): string {
  if (update['update'] === 'add') return update['add'].addrs.map((a: Msg) => `+${addrOf(a.addr)}`).join(' ');
  if (update['update'] === 'remove') return update['remove'].addrs.map((a: unknown) => `-${addrOf(a)}`).join(' ');
  return `none(${update['no_endpoints'].exists === true})`;
}

describe('Destination with FileDiscovery', () => {
  let dir: string;
  let file: string;
  let discovery: FileDiscovery;
  let h: Harness;
  const open: StreamReader[] = [];
  const get = (p: string, token?: string): StreamReader => {
    const s = h.get(p, token);
    open.push(s);
    return s;
  };
  const getProfile = (p: string, token?: string): StreamReader => {
    const s = h.getProfile(p, token);
    open.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-destination-'));
    file = path.join(dir, 'mesh.yaml');
    writeFileSync(file, FIXTURE);
    discovery = new FileDiscovery({
      path: file,
      clusterDomain: 'cluster.local',
      controlPlaneNamespace: 'sluice',
      trustDomain: 'cluster.local',
      log: quietLog(),
      pollIntervalMs: 100,
      debounceMs: 10,
    });
    await discovery.ready();
    h = await startDestination(discovery);
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.cancel();
    await h.close();
    discovery.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Get: the first message is the full set, with Linkerd labels, weight, identity and h2 hint', async () => {
    const first = await get(WEB).next<Msg>();
    assert.equal(first['update'], 'add');
    assert.deepEqual(first['add'].metric_labels, { namespace: 'emojivoto', service: 'web-svc' });
    const [a, b] = first['add'].addrs as Msg[];
    assert.equal(addrOf(a?.['addr']), '10.42.0.11:8080');
    assert.equal(addrOf(b?.['addr']), '[fd00::11]:8080');
    assert.equal(a?.['weight'], 10_000);
    assert.deepEqual(a?.['metric_labels'], {
      namespace: 'emojivoto',
      pod: 'web-5d8f-abcde',
      serviceaccount: 'web',
      deployment: 'web',
      control_plane_ns: 'sluice',
    });
    assert.equal(a?.['tls_identity'].dns_like_identity.name, 'web.emojivoto.serviceaccount.identity.sluice.cluster.local');
    assert.equal(a?.['tls_identity'].server_name.name, 'web.emojivoto.serviceaccount.identity.sluice.cluster.local');
    assert.equal(a?.['protocol_hint'].protocol, 'h2');
  });

  test('Get: an unmeshed endpoint has no identity and no hint', async () => {
    const first = await get('legacy.emojivoto.svc.cluster.local').next<Msg>();
    const [a] = first['add'].addrs as Msg[];
    assert.equal(addrOf(a?.['addr']), '10.42.0.40:9000');
    assert.equal(a?.['tls_identity'], undefined);
    assert.equal(a?.['protocol_hint'], undefined);
  });

  test('Get: file edits arrive as add / remove diffs', async () => {
    const stream = get(WEB);
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.42.0.11:8080 +[fd00::11]:8080');
    // Replace the IPv6 endpoint by a new IPv4 one.
    writeFileSync(file, FIXTURE.replace('ip: fd00::11', 'ip: 10.42.0.12'));
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.42.0.12:8080');
    assert.equal(describeUpdate(await stream.next<Msg>()), '-[fd00::11]:8080');
    // Change the target port: every endpoint is new.
    writeFileSync(file, FIXTURE.replace('ip: fd00::11', 'ip: 10.42.0.12').replace('80:8080', '80:8081'));
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.42.0.11:8081 +10.42.0.12:8081');
    assert.equal(describeUpdate(await stream.next<Msg>()), '-10.42.0.11:8080 -10.42.0.12:8080');
  });

  test('Get: no_endpoints{exists:true} for an empty Service, {exists:false} once it is deleted', async () => {
    const stream = get('empty.emojivoto.svc.cluster.local:80');
    assert.equal(describeUpdate(await stream.next<Msg>()), 'none(true)');
    writeFileSync(file, FIXTURE.replace('      empty: {ports: [80]}\n', ''));
    assert.equal(describeUpdate(await stream.next<Msg>()), 'none(false)');
    writeFileSync(file, FIXTURE.replace('empty: {ports: [80]}', 'empty: {ports: [80], endpoints: [10.9.9.9]}'));
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.9.9.9:80');
  });

  test('Get: NotFound for an unknown Service; InvalidArgument for IPs and other names', async () => {
    const notFound = await get('nope.emojivoto.svc.cluster.local:80').error();
    assert.equal(notFound.code, grpc.status.NOT_FOUND);
    assert.match(notFound.details, /emojivoto\/nope not found/);
    for (const bad of ['10.42.0.11:8080', '[fd00::11]:8080', 'example.com:80', 'web-svc.emojivoto:80', '']) {
      const error = await get(bad).error();
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT, bad);
    }
    await eventually(() => h.service.activeStreams === 0 && discovery.watcherCount === 0, 'no streams or watches left');
  });

  test('Get: a pod hostname selects one endpoint', async () => {
    const first = await get('emoji-0.emoji-svc.emojivoto.svc.cluster.local:8080').next<Msg>();
    assert.equal(describeUpdate(first), '+10.42.0.21:8080');
    const none = await get('emoji-1.emoji-svc.emojivoto.svc.cluster.local:8080').next<Msg>();
    assert.equal(describeUpdate(none), 'none(true)');
  });

  test('GetProfile: routes, timeouts, retry budget, dst overrides, fully_qualified_name', async () => {
    const profile = await getProfile(WEB).next<Msg>();
    assert.equal(profile['fully_qualified_name'], 'web-svc.emojivoto.svc.cluster.local');
    assert.equal(profile['opaque_protocol'], false);
    assert.deepEqual(profile['retry_budget'], { retry_ratio: 0.30000001192092896, min_retries_per_second: 5, ttl: { seconds: '20', nanos: 0 } });
    const [list, vote] = profile['routes'] as Msg[];
    assert.deepEqual(list?.['metrics_labels'], { route: 'GET /api/list' });
    assert.equal(list?.['is_retryable'], true);
    assert.deepEqual(list?.['timeout'], { seconds: '0', nanos: 300_000_000 });
    assert.equal(list?.['condition'].match, 'all');
    assert.deepEqual(
      list?.['condition'].all.matches.map((m: Msg) => m['match']),
      ['method', 'path'],
    );
    assert.equal(list?.['condition'].all.matches[0].method.registered, 'GET');
    assert.deepEqual(vote?.['timeout'], { seconds: '10', nanos: 0 }, 'the default route timeout');
    assert.deepEqual(vote?.['response_classes'][0].condition.status, { min: 500, max: 599 });
    assert.equal(vote?.['response_classes'][0].is_failure, true);
    assert.deepEqual(
      (profile['dst_overrides'] as Msg[]).map((d) => [d['authority'], d['weight']]),
      [
        ['web-svc.emojivoto.svc.cluster.local:80', 900],
        ['web-canary.emojivoto.svc.cluster.local:80', 100],
      ],
    );
  });

  test('GetProfile: opaque ports, the default profile, NotFound and InvalidArgument', async () => {
    const opaque = await getProfile('web-svc.emojivoto.svc.cluster.local:3306').next<Msg>();
    assert.equal(opaque['opaque_protocol'], true);
    const plain = await getProfile('legacy.emojivoto.svc.cluster.local:80').next<Msg>();
    assert.deepEqual(plain['routes'] ?? [], []);
    assert.deepEqual(plain['retry_budget'], { retry_ratio: 0.20000000298023224, min_retries_per_second: 10, ttl: { seconds: '10', nanos: 0 } });
    assert.equal(plain['fully_qualified_name'], 'legacy.emojivoto.svc.cluster.local');
    assert.equal((await getProfile('nope.emojivoto.svc.cluster.local:80').error()).code, grpc.status.NOT_FOUND);
    assert.equal((await getProfile('nope.example.com:80').error()).code, grpc.status.INVALID_ARGUMENT);
  });

  test('GetProfile: changes stream; removing the profile sends the default', async () => {
    const stream = getProfile(WEB);
    assert.equal((await stream.next<Msg>())['routes'].length, 2);
    writeFileSync(file, FIXTURE.replace('timeout: 300ms', 'timeout: 1.5s'));
    const changed = await stream.next<Msg>();
    assert.deepEqual(changed['routes'][0].timeout, { seconds: '1', nanos: 500_000_000 });
    writeFileSync(file, FIXTURE.replace(/ {4}profiles:\n {6}web-svc:\n[\s\S]*?opaquePorts: \[3306\]\n/, ''));
    const removed = await stream.next<Msg>();
    assert.deepEqual(removed['routes'] ?? [], []);
    assert.equal(removed['retry_budget'].min_retries_per_second, 10);
  });

  test('GetProfile: context tokens prefer a profile in the client namespace (JSON and legacy forms)', async () => {
    const routeNames = async (token: string | undefined): Promise<string[]> =>
      ((await getProfile(WEB, token).next<Msg>())['routes'] as Msg[]).map((r) => r['metrics_labels'].route);
    assert.deepEqual(await routeNames('{"ns":"client-ns","nodeName":"node-1","pod":"client-1"}'), ['client-side']);
    assert.deepEqual(await routeNames('ns:client-ns'), ['client-side']);
    assert.deepEqual(await routeNames('{"ns":"emojivoto"}'), ['GET /api/list', 'POST /api/vote']);
    assert.deepEqual(await routeNames('ns:other'), ['GET /api/list', 'POST /api/vote']);
    assert.deepEqual(await routeNames(undefined), ['GET /api/list', 'POST /api/vote']);
    assert.deepEqual(await routeNames('not a token'), ['GET /api/list', 'POST /api/vote']);
  });

  test('GetProfile IP:port: the pod behind the IP as `endpoint`; unknown IPs get the default profile', async () => {
    const stream = getProfile('10.42.0.11:8080');
    const known = await stream.next<Msg>();
    assert.equal(known['fully_qualified_name'], '');
    assert.equal(addrOf(known['endpoint'].addr), '10.42.0.11:8080');
    assert.equal(known['endpoint'].weight, 10_000);
    assert.equal(known['endpoint'].metric_labels.pod, 'web-5d8f-abcde');
    assert.equal(known['endpoint'].tls_identity.dns_like_identity.name, 'web.emojivoto.serviceaccount.identity.sluice.cluster.local');
    assert.equal(known['endpoint'].protocol_hint.protocol, 'h2');
    assert.equal(known['retry_budget'].min_retries_per_second, 10);
    const v6 = await getProfile('[fd00:0::11]:8080').next<Msg>();
    assert.equal(v6['endpoint'].metric_labels.pod, 'web-5d8f-fghij');
    const unknown = await getProfile('192.0.2.1:80').next<Msg>();
    assert.equal(unknown['endpoint'], undefined);
    assert.deepEqual(unknown['routes'] ?? [], []);
    // The pod moves away: the stream follows.
    writeFileSync(file, FIXTURE.replace('ip: 10.42.0.11', 'ip: 10.42.0.12'));
    const moved = await stream.next<Msg>();
    assert.equal(moved['endpoint'], undefined);
  });

  test('GetProfile on a cluster IP: the Service profile with its name, following the file', async () => {
    const stream = getProfile('10.96.0.10:80');
    const first = await stream.next<Msg>();
    assert.equal(first['fully_qualified_name'], 'web-svc.emojivoto.svc.cluster.local');
    assert.equal(first['routes'].length, 2);
    assert.equal(first['endpoint'], undefined);
    const clientSide = await getProfile('10.96.0.10:80', 'ns:client-ns').next<Msg>();
    assert.equal(clientSide['routes'][0].metrics_labels.route, 'client-side');
    // The IP is no longer the Service's: the default profile.
    writeFileSync(file, FIXTURE.replace('clusterIP: 10.96.0.10', 'clusterIP: 10.96.0.11'));
    const moved = await stream.next<Msg>();
    assert.equal(moved['fully_qualified_name'], '');
    assert.deepEqual(moved['routes'] ?? [], []);
    // And back.
    writeFileSync(file, FIXTURE);
    assert.equal((await stream.next<Msg>())['fully_qualified_name'], 'web-svc.emojivoto.svc.cluster.local');
  });

  test('cancelled streams end cleanly and release every watch', async () => {
    const streams = [
      get(WEB),
      get('empty.emojivoto.svc.cluster.local'),
      getProfile(WEB, 'ns:client-ns'),
      getProfile('10.42.0.11:80'),
      getProfile('10.96.0.10:80', 'ns:client-ns'),
    ];
    for (const s of streams) await s.next();
    assert.equal(h.service.activeStreams, 5);
    // Get ×2 + GetProfile(profile in the Service ns + in the client ns) + pod signal + cluster IP
    // (pod signal + 2 profiles); the Service existence check of GetProfile is released after its
    // first answer.
    assert.equal(discovery.watcherCount, 2 + 2 + 1 + 3);
    for (const s of streams) s.cancel();
    for (const s of streams) assert.equal((await s.status).code, grpc.status.CANCELLED);
    await eventually(() => h.service.activeStreams === 0, 'streams released');
    assert.equal(discovery.watcherCount, 0);
  });
});

describe('Destination edge cases (in-memory backend)', () => {
  let backend: FakeBackend;
  let h: Harness;
  const ep = (ip: string): Endpoint => ({ ip, port: 80, weight: 10_000, labels: {}, identity: undefined, protocolHint: undefined });
  const NAME = { namespace: 'ns', service: 'svc' };
  const PATH = 'svc.ns.svc.cluster.local:80';

  beforeEach(async () => {
    backend = new FakeBackend();
    h = await startDestination(backend, { podPollMs: 20 });
  });
  afterEach(async () => {
    await h.close();
  });

  test('a first state delivered synchronously from inside watch*: NotFound and nothing leaks', async () => {
    backend.synchronous = true;
    assert.equal((await h.get(PATH).error()).code, grpc.status.NOT_FOUND);
    assert.equal((await h.getProfile(PATH).error()).code, grpc.status.NOT_FOUND);
    backend.setService(NAME, { kind: 'endpoints', labels: {}, endpoints: [ep('10.0.0.1')] });
    const stream = h.get(PATH);
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.0.0.1:80');
    stream.cancel();
    await eventually(() => h.service.activeStreams === 0 && backend.watchers === 0, 'released');
  });

  test('a backend still syncing: the stream waits for the first state', async () => {
    backend.deliverImmediately = false;
    const stream = h.get(PATH);
    await eventually(() => backend.watchers === 1, 'the watch');
    assert.equal(stream.pending, 0);
    backend.setService(NAME, { kind: 'endpoints', labels: { namespace: 'ns', service: 'svc' }, endpoints: [ep('10.0.0.1')] });
    assert.equal(describeUpdate(await stream.next<Msg>()), '+10.0.0.1:80');
    backend.setService(NAME, { kind: 'endpoints', labels: {}, endpoints: [] });
    assert.equal(describeUpdate(await stream.next<Msg>()), 'none(true)');
    backend.setService(NAME, { kind: 'not-found' });
    assert.equal(describeUpdate(await stream.next<Msg>()), 'none(false)');
    stream.cancel();
    await eventually(() => backend.watchers === 0, 'released');
  });

  test('without namespaced profiles the service profile is served whatever the token', async () => {
    backend.setService(NAME, { kind: 'endpoints', labels: {}, endpoints: [] });
    backend.setProfile(NAME, { routes: [{ name: 'r', condition: { pathRegex: '/' } }] });
    const stream = h.getProfile(PATH, 'ns:other');
    assert.equal((await stream.next<Msg>())['routes'][0].metrics_labels.route, 'r');
    backend.setProfile(NAME, undefined);
    assert.deepEqual((await stream.next<Msg>())['routes'] ?? [], []);
    stream.cancel();
  });

  test('IP profiles poll the pod list when the backend cannot signal changes', async () => {
    const stream = h.getProfile('10.0.0.5:80');
    assert.equal((await stream.next<Msg>())['endpoint'], undefined);
    backend.podList = [
      {
        namespace: 'ns',
        name: 'p',
        ip: '10.0.0.5',
        owner: { kind: 'DaemonSet', name: 'agent' },
        serviceAccount: 'agent',
        meshed: false,
        phase: 'Running',
        labels: {},
      },
    ];
    const found = await stream.next<Msg>();
    assert.deepEqual(found['endpoint'].metric_labels, { namespace: 'ns', pod: 'p', serviceaccount: 'agent', daemonset: 'agent' });
    assert.equal(found['endpoint'].tls_identity, undefined);
    stream.cancel();
    await eventually(() => h.service.activeStreams === 0, 'released');
  });

  test('closing the service ends open streams with UNAVAILABLE', async () => {
    backend.setService(NAME, { kind: 'endpoints', labels: {}, endpoints: [ep('10.0.0.1')] });
    const stream = h.get(PATH);
    await stream.next();
    h.service.close();
    assert.equal((await stream.error()).code, grpc.status.UNAVAILABLE);
    assert.equal(backend.watchers, 0);
  });
});

describe('the controller component', () => {
  test('registers Destination on ctx.proxyApi and ends its streams on shutdown', async () => {
    const backend = new FakeBackend();
    backend.setService({ namespace: 'ns', service: 'svc' }, { kind: 'endpoints', labels: {}, endpoints: [] });
    const closers: Array<() => void | Promise<void>> = [];
    const server = new grpc.Server();
    await destinationComponent({
      config: {
        ...controllerDefaults(),
        proxyApiAddr: { host: '127.0.0.1', port: 0 },
        publicApiAddr: { host: '127.0.0.1', port: 0 },
        adminAddr: { host: '127.0.0.1', port: 0 },
        peers: { kind: 'none' },
        podIp: undefined,
        discovery: 'file',
        discoveryFile: undefined,
        clusterDomain: 'cluster.local',
        controlPlaneNamespace: 'sluice',
        trustDomain: 'cluster.local',
        logLevel: 'error',
        logFormat: 'plain',
      },
      log: quietLog(),
      discovery: backend,
      proxyApi: server,
      publicApi: new PublicApiRegistry(),
      addresses: {},
      addMetrics: () => {},
      onClose: (close) => closers.push(close),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))),
    );
    const client = destinationClient(`127.0.0.1:${port}`);
    const stream = new StreamReader(
      client['Get']?.({ path: 'svc.ns.svc.cluster.local:80' }) as grpc.ClientReadableStream<unknown>,
    );
    assert.equal(describeUpdate(await stream.next<Msg>()), 'none(true)');
    for (const close of closers) await close();
    assert.equal((await stream.error()).code, grpc.status.UNAVAILABLE);
    assert.equal(backend.watchers, 0);
    client.close();
    server.forceShutdown();
  });
});

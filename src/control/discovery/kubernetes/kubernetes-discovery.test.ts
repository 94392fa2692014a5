// KubernetesDiscovery through the real @kubernetes/client-node against the fake API server:
// what listeners see as Services, slices, pods, owners and ServiceProfiles change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeKube } from '../../../../test/fake-kube/server.ts';
import {
  cronJob,
  daemonSet,
  deployment,
  endpointSlice,
  job,
  pod,
  replicaSet,
  service,
  serviceProfile,
  statefulSet,
} from '../../../../test/fake-kube/objects.ts';
import type { SliceEndpoint } from '../../../../test/fake-kube/objects.ts';
import type { ProfileSpec, ServiceState } from '../types.ts';
import type { KubernetesDiscovery } from './kubernetes-discovery.ts';
import { addresses, endpointsOf, harness, Recorder, sleep, until } from './testkit.ts';

const NS = 'shop';
const WEB = { namespace: NS, service: 'web' };

const webPod = (n: number, meshed = true) =>
  pod({
    name: `web-7c9d-${n}`,
    namespace: NS,
    ip: `10.1.0.${n}`,
    labels: { app: 'web', 'pod-template-hash': '7c9d' },
    owner: { kind: 'ReplicaSet', name: 'web-7c9d' },
    serviceAccount: 'web',
    ...(meshed ? { meshed: 'container' as const } : {}),
  });
const webSlice = (endpoints: readonly SliceEndpoint[], name = 'web-abcde') =>
  endpointSlice({ name, namespace: NS, service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints });
const ready = (...ns: number[]): SliceEndpoint[] => ns.map((n) => ({ ip: `10.1.0.${n}`, pod: `web-7c9d-${n}`, ready: true }));

const podKnown = (discovery: KubernetesDiscovery, name: string): Promise<void> =>
  until(`pod ${name} in the cache`, () => discovery.pods().some((p) => p.name === name));

/** A Deployment `web` (one ReplicaSet) with two meshed pods behind Service `web` port 80 → `http` (8080). */
function seedWeb(fake: FakeKube): void {
  fake.create(deployment('web', NS));
  fake.create(replicaSet('web-7c9d', NS, { kind: 'Deployment', name: 'web' }));
  fake.create(webPod(1));
  fake.create(webPod(2));
  fake.create(service({ name: 'web', namespace: NS, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
  fake.create(webSlice(ready(1, 2)));
}

describe('KubernetesDiscovery', () => {
  test('initial state: endpoints with target ports, labels, identities', async (t) => {
    const { discovery } = await harness(t, seedWeb, { discovery: { controlPlaneNamespace: 'mesh', trustDomain: 'example.org' } });
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    const state = await rec.until('first state', () => true);
    assert.deepEqual(state, {
      kind: 'endpoints',
      labels: { namespace: NS, service: 'web' },
      endpoints: [1, 2].map((n) => ({
        ip: `10.1.0.${n}`,
        port: 8080,
        weight: 10000,
        labels: { namespace: NS, pod: `web-7c9d-${n}`, deployment: 'web', serviceaccount: 'web', pod_template_hash: '7c9d' },
        identity: 'web.shop.serviceaccount.identity.mesh.example.org',
        protocolHint: 'h2',
      })),
    });
    await sleep(50);
    assert.equal(rec.states.length, 1, 'one update for one state');
  });

  test('without the ServiceProfile CRD it still becomes ready and serves endpoints, with a warning', async (t) => {
    const { discovery, log } = await harness(t, seedWeb, {
      fake: { missing: ['serviceprofiles'] },
      discovery: { profileSyncGraceMs: 200 },
    });
    await discovery.ready();
    assert.ok(log.lines.some((l) => l.level === 'warn' && /CRD installed/.test(l.msg)));
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    const state = await rec.until('endpoints', (s) => s.kind === 'endpoints');
    assert.equal(endpointsOf(state).length, 2);
    const profiles = new Recorder<ProfileSpec | undefined>();
    discovery.watchProfile(WEB, profiles.onUpdate);
    assert.equal(await profiles.until('a profile state', () => true), undefined);
  });

  test('a listener added before ready() gets the state once synced', async (t) => {
    const { discovery } = await harness(t, seedWeb);
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('synced state', (s) => addresses(s)?.length === 2);
    assert.equal(rec.states.length, 1);
  });

  test('scaling up and down, readiness flips', async (t) => {
    const { fake, discovery } = await harness(t, seedWeb);
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('two endpoints', (s) => addresses(s)?.length === 2);

    // Pod first, as in a real cluster; waiting for it keeps the count of updates exact (otherwise the
    // slice may be seen first, giving one more update with the pod's labels missing).
    fake.create(webPod(3));
    await podKnown(discovery, 'web-7c9d-3');
    fake.update(webSlice(ready(1, 2, 3)));
    await rec.until('three endpoints', (s) => addresses(s)?.length === 3);
    assert.deepEqual(addresses(rec.last), ['10.1.0.1:8080', '10.1.0.2:8080', '10.1.0.3:8080']);

    fake.update(webSlice([...ready(1, 3), { ip: '10.1.0.2', pod: 'web-7c9d-2', ready: false }]));
    await rec.until('2 not ready', (s) => addresses(s)?.length === 2);
    assert.deepEqual(addresses(rec.last), ['10.1.0.1:8080', '10.1.0.3:8080']);
    fake.update(webSlice(ready(1, 2, 3)));
    await rec.until('2 ready again', (s) => addresses(s)?.length === 3);

    fake.update(webSlice(ready(3)));
    fake.delete(webPod(1));
    fake.delete(webPod(2));
    await rec.until('scaled down', (s) => addresses(s)?.length === 1);
    assert.deepEqual(addresses(rec.last), ['10.1.0.3:8080']);
    rec.assertNoRepeats();
    assert.equal(rec.states.length, 5);
  });

  test('a second slice adds endpoints; a pod change that alters nothing sends nothing', async (t) => {
    const { fake, discovery } = await harness(t, seedWeb);
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('two endpoints', (s) => addresses(s)?.length === 2);
    fake.create(webPod(9));
    await podKnown(discovery, 'web-7c9d-9');
    fake.create(webSlice(ready(9), 'web-fghij'));
    await rec.until('three endpoints', (s) => addresses(s)?.length === 3);
    const count = rec.states.length;
    fake.update({ ...webPod(1), metadata: { ...webPod(1).metadata, annotations: { note: 'irrelevant' } } });
    await sleep(100);
    assert.equal(rec.states.length, count);
  });

  test('not-found, then the Service appears, then its endpoints; deleting the Service → not-found', async (t) => {
    const { fake, discovery } = await harness(t);
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('not-found', (s) => s.kind === 'not-found');
    seedWeb(fake);
    await rec.until('endpoints', (s) => addresses(s)?.length === 2);
    fake.delete(service({ name: 'web', namespace: NS, ports: [] }));
    await rec.until('not-found again', (s) => s.kind === 'not-found');
    rec.assertNoRepeats();
    // The first state is not-found, the last not-found; in between only endpoint states.
    assert.equal(rec.states[0]?.kind, 'not-found');
    assert.ok(rec.states.slice(1, -1).every((s) => s.kind === 'endpoints'));
  });

  test('a stopped listener hears nothing more', async (t) => {
    const { fake, discovery } = await harness(t, seedWeb);
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    const stop = discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('first', () => true);
    stop();
    fake.update(webSlice(ready(1)));
    await sleep(100);
    assert.equal(rec.states.length, 1);
  });

  test('ServiceProfile create, update, delete', async (t) => {
    const { fake, discovery } = await harness(t);
    await discovery.ready();
    const rec = new Recorder<ProfileSpec | undefined>();
    discovery.watchProfile(WEB, rec.onUpdate);
    await rec.until('no profile', (p) => p === undefined);
    const routes = [{ name: 'GET /', condition: { method: 'GET', pathRegex: '/' }, isRetryable: true, timeout: '1s' }];
    fake.create(serviceProfile({ service: 'web', namespace: NS, spec: { routes } }));
    assert.deepEqual(await rec.until('profile', (p) => p !== undefined), { routes });
    const retryBudget = { retryRatio: 0.5, minRetriesPerSecond: 1, ttl: '5s' };
    fake.update(serviceProfile({ service: 'web', namespace: NS, spec: { routes, retryBudget } }));
    assert.deepEqual(await rec.until('updated', (p) => p?.retryBudget !== undefined), { routes, retryBudget });
    // Another Service's profile, or one in the wrong namespace, is not ours.
    fake.create(serviceProfile({ service: 'other', namespace: NS, spec: {} }));
    fake.create({ ...serviceProfile({ service: 'web', namespace: NS, spec: {} }), metadata: { name: 'web.shop.svc.cluster.local', namespace: 'elsewhere' } });
    fake.delete(serviceProfile({ service: 'web', namespace: NS, spec: {} }));
    await rec.until('deleted', (p) => p === undefined);
    assert.equal(rec.states.length, 4);
  });

  test('ServiceProfile names follow the cluster domain', async (t) => {
    const { fake, discovery } = await harness(t, undefined, { discovery: { clusterDomain: 'corp.internal' } });
    await discovery.ready();
    const rec = new Recorder<ProfileSpec | undefined>();
    discovery.watchProfile(WEB, rec.onUpdate);
    fake.create(serviceProfile({ service: 'web', namespace: NS, spec: { opaquePorts: [1] } }));
    fake.create(serviceProfile({ service: 'web', namespace: NS, clusterDomain: 'corp.internal', spec: { opaquePorts: [2] } }));
    assert.deepEqual(await rec.until('profile', (p) => p !== undefined), { opaquePorts: [2] });
  });

  test('owners: Deployment via ReplicaSet, StatefulSet, DaemonSet, CronJob via Job, bare pod; pods()', async (t) => {
    const { fake, discovery } = await harness(t, (f) => {
      f.create(statefulSet('db', NS));
      f.create(daemonSet('agent', NS));
      f.create(cronJob('nightly', NS));
      f.create(job('nightly-28001', NS, { kind: 'CronJob', name: 'nightly' }));
      f.create(job('once', NS));
      f.create(replicaSet('lonely', NS));
    });
    await discovery.ready();
    const pods = [
      pod({ name: 'web-7c9d-1', namespace: NS, ip: '10.2.0.1', owner: { kind: 'ReplicaSet', name: 'web-7c9d' } }),
      pod({ name: 'db-0', namespace: NS, ip: '10.2.0.2', owner: { kind: 'StatefulSet', name: 'db' } }),
      pod({ name: 'agent-x', namespace: NS, ip: '10.2.0.3', owner: { kind: 'DaemonSet', name: 'agent' } }),
      pod({ name: 'nightly-28001-q', namespace: NS, ip: '10.2.0.4', owner: { kind: 'Job', name: 'nightly-28001' } }),
      pod({ name: 'once-z', namespace: NS, ip: '10.2.0.5', owner: { kind: 'Job', name: 'once' } }),
      pod({ name: 'lonely-a', namespace: NS, ip: '10.2.0.6', owner: { kind: 'ReplicaSet', name: 'lonely' } }),
      pod({ name: 'bare', namespace: NS, ip: '10.2.0.7', meshed: 'annotation' }),
    ];
    for (const p of pods) fake.create(p);
    fake.create(service({ name: 'all', namespace: NS, ports: [{ port: 80, targetPort: 8080 }] }));
    fake.create(
      endpointSlice({
        name: 'all-1',
        namespace: NS,
        service: 'all',
        ports: [{ port: 8080 }],
        endpoints: pods.map((p, i) => ({ ip: `10.2.0.${i + 1}`, pod: p.metadata?.name ?? '' })),
      }),
    );
    const rec = new Recorder<ServiceState>();
    discovery.watchService({ namespace: NS, service: 'all' }, 80, rec.onUpdate);
    const ownerLabels = (s: ServiceState) =>
      endpointsOf(s).map((e) => Object.entries(e.labels).filter(([k]) => !['namespace', 'pod', 'serviceaccount', 'pod_template_hash'].includes(k)));
    await rec.until('all endpoints with pods', (s) => endpointsOf(s).length === 7 && endpointsOf(s).every((e) => e.labels['serviceaccount']));
    // The ReplicaSet `web-7c9d` does not exist yet: the pod is reported under it until it does.
    assert.deepEqual(ownerLabels(rec.last as ServiceState), [
      [['replicaset', 'web-7c9d']],
      [['statefulset', 'db']],
      [['daemonset', 'agent']],
      [['cronjob', 'nightly']],
      [['job', 'once']],
      [['replicaset', 'lonely']],
      [],
    ]);
    fake.create(deployment('web', NS));
    fake.create(replicaSet('web-7c9d', NS, { kind: 'Deployment', name: 'web' }));
    await rec.until('deployment known', (s) => endpointsOf(s)[0]?.labels['deployment'] === 'web');
    assert.equal(endpointsOf(rec.last).at(-1)?.identity, 'default.shop.serviceaccount.identity.sluice.cluster.local');
    const infos = discovery.pods().map((p) => [p.name, p.owner?.kind, p.owner?.name, p.meshed, p.ip]);
    assert.deepEqual(
      infos.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ['agent-x', 'DaemonSet', 'agent', false, '10.2.0.3'],
        ['bare', undefined, undefined, true, '10.2.0.7'],
        ['db-0', 'StatefulSet', 'db', false, '10.2.0.2'],
        ['lonely-a', 'ReplicaSet', 'lonely', false, '10.2.0.6'],
        ['nightly-28001-q', 'CronJob', 'nightly', false, '10.2.0.4'],
        ['once-z', 'Job', 'once', false, '10.2.0.5'],
        ['web-7c9d-1', 'Deployment', 'web', false, '10.2.0.1'],
      ],
    );
    rec.assertNoRepeats();
  });

  test('close() stops everything: no updates, no open watches', async (t) => {
    const { fake, discovery } = await harness(t, seedWeb);
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('first', () => true);
    discovery.close();
    fake.update(webSlice(ready(1)));
    await sleep(100);
    assert.equal(rec.states.length, 1);
    // The server sees the aborted watches close a little later, the more so on a busy machine.
    await until('every watch to be closed on the server', () => fake.openWatches === 0, 3000);
  });
});

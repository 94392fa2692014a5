// Watches that break: connections cut mid-stream, history expired (410), bookmarks, failing lists.
// After recovery a listener's last state must equal what a fresh discovery computes, with no update
// repeated and none sent when nothing changed.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeKube } from '../../../../test/fake-kube/server.ts';
import { kubeConfigFor } from '../../../../test/fake-kube/client.ts';
import { deployment, endpointSlice, pod, replicaSet, service, serviceProfile } from '../../../../test/fake-kube/objects.ts';
import type { ProfileSpec, ServiceName, ServiceState } from '../types.ts';
import { canonical, KubernetesDiscovery } from './kubernetes-discovery.ts';
import { addresses, endpointsOf, harness, MemoryLog, Recorder, sleep, until, WATCHED } from './testkit.ts';

const NS = 'shop';
const WEB = { namespace: NS, service: 'web' };
const API = { namespace: NS, service: 'api' };

const webPod = (n: number) =>
  pod({
    name: `web-1-${n}`,
    namespace: NS,
    ip: `10.1.0.${n}`,
    labels: { 'pod-template-hash': '1' },
    owner: { kind: 'ReplicaSet', name: 'web-1' },
    meshed: 'container',
  });
const webSlice = (...ns: number[]) =>
  endpointSlice({
    name: 'web-s',
    namespace: NS,
    service: 'web',
    ports: [{ name: 'http', port: 8080 }],
    endpoints: ns.map((n) => ({ ip: `10.1.0.${n}`, pod: `web-1-${n}` })),
  });
const apiService = () => service({ name: 'api', namespace: NS, ports: [{ port: 80, targetPort: 9000 }] });

function seed(fake: FakeKube): void {
  fake.create(deployment('web', NS));
  fake.create(replicaSet('web-1', NS, { kind: 'Deployment', name: 'web' }));
  fake.create(webPod(1));
  fake.create(webPod(2));
  fake.create(service({ name: 'web', namespace: NS, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
  fake.create(webSlice(1, 2));
  fake.create(apiService());
  fake.create(endpointSlice({ name: 'api-s', namespace: NS, service: 'api', ports: [{ port: 9000 }], endpoints: [{ ip: '10.3.0.1' }] }));
}

/** Changes made while the discovery cannot watch: scale web, drop a pod, delete api, add a profile. */
function changeEverything(fake: FakeKube): void {
  fake.create(webPod(3));
  fake.update(webSlice(2, 3));
  fake.delete(webPod(1));
  fake.delete(apiService());
  fake.create(serviceProfile({ service: 'web', namespace: NS, spec: { opaquePorts: [5432] } }));
}

/** What a discovery started now, from a fresh list, says about `name`. */
async function freshState(t: TestContext, fake: FakeKube, name: ServiceName): Promise<ServiceState> {
  const fresh = new KubernetesDiscovery(kubeConfigFor(fake), { log: new MemoryLog() });
  t.after(() => fresh.close());
  await fresh.ready();
  const rec = new Recorder<ServiceState>();
  fresh.watchService(name, 80, rec.onUpdate);
  const state = await rec.until('fresh state', () => true);
  fresh.close();
  return state;
}

async function watchAll(discovery: KubernetesDiscovery) {
  const web = new Recorder<ServiceState>();
  const api = new Recorder<ServiceState>();
  const profile = new Recorder<ProfileSpec | undefined>();
  discovery.watchService(WEB, 80, web.onUpdate);
  discovery.watchService(API, 80, api.onUpdate);
  discovery.watchProfile(WEB, profile.onUpdate);
  await web.until('web', (s) => addresses(s)?.length === 2);
  await api.until('api', (s) => addresses(s)?.length === 1);
  await profile.until('no profile', (p) => p === undefined);
  return { web, api, profile };
}

/** Waits for the changes of changeEverything(), then checks them against a fresh discovery. */
async function caughtUp(t: TestContext, fake: FakeKube, rec: Awaited<ReturnType<typeof watchAll>>): Promise<void> {
  await rec.web.until('web caught up', (s) => String(addresses(s)) === '10.1.0.2:8080,10.1.0.3:8080' && endpointsOf(s)[1]?.labels['deployment'] === 'web');
  await rec.api.until('api gone', (s) => s.kind === 'not-found');
  await rec.profile.until('profile', (p) => p !== undefined);
  assert.equal(canonical(rec.web.last), canonical(await freshState(t, fake, WEB)));
  assert.deepEqual(rec.profile.last, { opaquePorts: [5432] });
  // Settled: nothing more arrives, and nothing was sent twice.
  const counts = [rec.web.states.length, rec.api.states.length, rec.profile.states.length];
  await sleep(150);
  assert.deepEqual([rec.web.states.length, rec.api.states.length, rec.profile.states.length], counts);
  assert.deepEqual([rec.api.states.length, rec.profile.states.length], [2, 2]);
  rec.web.assertNoRepeats();
}

const sum = (stats: Record<string, { restarts: number; lists: number }>, key: 'restarts' | 'lists'): number =>
  Object.values(stats).reduce((n, s) => n + s[key], 0);

describe('recovery', () => {
  test('connections reset mid-stream: informers restart with backoff, resume, and catch up', async (t) => {
    const { fake, discovery, log, steady } = await harness(t, seed, { fake: { bookmarkIntervalMs: 20 } });
    await discovery.ready();
    await steady();
    const rec = await watchAll(discovery);

    fake.fail(['watch'], 503); // keep them out for a while
    fake.dropWatches('reset');
    changeEverything(fake);
    await until('a few restart rounds', () => log.matching('restarting informer').length >= 18);
    assert.equal(rec.web.states.length, 1, 'nothing seen while disconnected');
    const warning = log.matching('restarting informer')[0];
    assert.equal(warning?.level, 'warn');
    assert.ok(['services', 'endpointslices', 'pods', 'replicasets', 'jobs', 'serviceprofiles', 'servers', 'serverauthorizations'].includes(String(warning?.fields['resource'])));
    fake.heal();

    await caughtUp(t, fake, rec);
    await steady();
    const stats = discovery.stats();
    assert.ok(sum(stats, 'restarts') >= 18);
    // Resumed from their resourceVersions: no informer had to list again.
    assert.equal(sum(stats, 'lists'), WATCHED);
    // And it goes on working.
    fake.update(webSlice(3));
    await rec.web.until('one left', (s) => addresses(s)?.length === 1);
    // Having made progress (events, bookmarks), the next failure starts the backoff over.
    await sleep(60);
    const before = log.matching('restarting informer').length;
    fake.dropWatches('reset');
    await until('one more restart each', () => log.matching('restarting informer').length === before + WATCHED);
    assert.deepEqual(
      log.matching('restarting informer').slice(before).map((l) => l.fields['attempt']),
      Array<number>(WATCHED).fill(1),
    );
    await steady();
  });

  test('a cleanly ended watch is resumed by the client itself', async (t) => {
    const { fake, discovery, steady } = await harness(t, seed);
    await discovery.ready();
    await steady();
    const rec = await watchAll(discovery);
    fake.dropWatches('end');
    changeEverything(fake);
    await caughtUp(t, fake, rec);
    await steady();
    assert.equal(sum(discovery.stats(), 'restarts'), 0);
    assert.equal(sum(discovery.stats(), 'lists'), WATCHED);
  });

  test('a drop with no changes sends no updates', async (t) => {
    const { fake, discovery, steady } = await harness(t, seed);
    await discovery.ready();
    await steady();
    const rec = await watchAll(discovery);
    fake.dropWatches('reset');
    await sleep(50);
    await steady();
    // And once through a full re-list: a change elsewhere, then the history forgotten.
    fake.create(pod({ name: 'unrelated', namespace: 'other' }));
    fake.dropWatches('reset');
    fake.compactHistory();
    await until('re-listed', () => sum(discovery.stats(), 'lists') >= 12);
    await steady();
    await sleep(50);
    assert.deepEqual([rec.web.states.length, rec.api.states.length, rec.profile.states.length], [1, 1, 1]);
  });

  test('410 Expired: informers re-list and catch up, deletions included', async (t) => {
    const { fake, discovery, log, steady } = await harness(t, seed);
    await discovery.ready();
    await steady();
    const rec = await watchAll(discovery);
    fake.fail(['watch'], 503);
    fake.dropWatches('reset');
    changeEverything(fake);
    fake.compactHistory();
    await until('restarting', () => log.matching('restarting informer').length >= WATCHED);
    fake.heal();
    await caughtUp(t, fake, rec);
    await steady();
    const stats = discovery.stats();
    // Every informer's resourceVersion predates the compaction, so every one re-listed.
    for (const [resource, s] of Object.entries(stats)) assert.equal(s.lists, 2, `${resource} re-listed once`);
    assert.equal(log.matching('informer re-listed').length, WATCHED);
    assert.equal(fake.count('list'), 3 * WATCHED, 'initial lists, re-lists, and those of the fresh discovery: one per informer each');
  });

  test('bookmarks change nothing for listeners and keep resourceVersions fresh', async (t) => {
    const { fake, discovery, steady } = await harness(t, seed, { fake: { bookmarkIntervalMs: 10 } });
    await discovery.ready();
    await steady();
    const rec = await watchAll(discovery);
    fake.create(pod({ name: 'unrelated', namespace: 'other' }));
    const bookmarks = fake.bookmarksSent;
    await until('bookmarks on every watch (about 10 each)', () => fake.bookmarksSent >= bookmarks + 6 * 10);
    assert.deepEqual([rec.web.states.length, rec.api.states.length, rec.profile.states.length], [1, 1, 1]);
    // Even informers whose resource did not change know the latest version…
    await until('jobs informer at the latest version', () => discovery.stats()['jobs']?.resourceVersion === fake.resourceVersion);
    // …so history can be compacted under them without a re-list.
    fake.compactHistory();
    fake.dropWatches('reset');
    changeEverything(fake);
    await caughtUp(t, fake, rec);
    await steady();
    assert.equal(sum(discovery.stats(), 'lists'), WATCHED);
  });

  test('failing lists at start: ready() waits, restarts back off, then it syncs', async (t) => {
    const { fake, discovery, log } = await harness(t, (f) => {
      seed(f);
      f.fail(['list'], 500);
    });
    let isReady = false;
    void discovery.ready().then(() => (isReady = true));
    await until('backoff reaches the cap', () => log.matching('restarting informer').some((l) => Number(l.fields['delayMs']) > 200 * 0.8));
    assert.equal(isReady, false);
    const attempts = log.matching('restarting informer').filter((l) => l.fields['resource'] === 'pods');
    const delays = attempts.map((l) => Number(l.fields['delayMs']));
    assert.ok(delays.every((d) => d <= 200 * 1.2), `capped: ${delays.join()}`);
    assert.ok((delays[0] ?? Infinity) < 20 * 1.2 + 1, `starts small: ${delays.join()}`);
    assert.deepEqual(
      attempts.map((l) => l.fields['attempt']),
      attempts.map((_, i) => i + 1),
    );
    assert.match(String(attempts[0]?.fields['error']), /500/);
    fake.heal();
    await discovery.ready();
    const rec = new Recorder<ServiceState>();
    discovery.watchService(WEB, 80, rec.onUpdate);
    await rec.until('state', (s) => addresses(s)?.length === 2);
  });

  test('close() before sync rejects ready() and stops retrying', async (t) => {
    const { fake, discovery, log } = await harness(t, (f) => f.fail(['list'], 500));
    await until('a failure', () => log.matching('restarting informer').length > 0);
    discovery.close();
    await assert.rejects(discovery.ready(), /closed/);
    // Requests already on their way may still arrive; then nothing more, though retries were due.
    let seen = -1;
    while (seen !== fake.requests.length) {
      seen = fake.requests.length;
      await sleep(100);
    }
    await sleep(400);
    assert.equal(fake.requests.length, seen);
  });
});

// The fake API server, exercised through the real @kubernetes/client-node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, makeInformer, Watch } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { FakeKube } from './server.ts';
import { kubeConfigFor } from './client.ts';
import { pod, serviceProfile } from './objects.ts';

interface WatchEvent {
  readonly type: string;
  readonly object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string };
}

/** Opens a watch and collects its events; `done` resolves when the server ends it. */
async function openWatch(kc: KubeConfig, path: string, query: Record<string, string>) {
  const events: WatchEvent[] = [];
  let finish: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(path, query, (type, object) => events.push({ type, object }), (err) => finish(err));
  return { events, done, stop: () => controller.abort() };
}

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const names = (events: readonly WatchEvent[]): string[] => events.map((e) => `${e.type} ${e.object.metadata?.name ?? e.object.reason}`);

describe('FakeKube with the real client', () => {
  let fake: FakeKube;
  let kc: KubeConfig;
  let core: CoreV1Api;

  before(async () => {
    fake = await FakeKube.start({ bookmarkIntervalMs: 50 });
    kc = kubeConfigFor(fake);
    core = kc.makeApiClient(CoreV1Api);
    fake.create(pod({ name: 'a-1', namespace: 'a', ip: '10.0.0.1', labels: { app: 'web', tier: 'front' } }));
    fake.create(pod({ name: 'a-2', namespace: 'a', ip: '10.0.0.2', labels: { app: 'web' }, phase: 'Pending' }));
    fake.create(pod({ name: 'b-1', namespace: 'b', ip: '10.0.1.1', labels: { app: 'db' } }));
  });
  after(() => fake.close());

  test('lists cluster-wide and per namespace, with label and field selectors', async () => {
    const all = await core.listPodForAllNamespaces();
    assert.deepEqual(all.items.map((p) => p.metadata?.name), ['a-1', 'a-2', 'b-1']);
    assert.equal(all.metadata?.resourceVersion, fake.resourceVersion);
    const inA = await core.listNamespacedPod({ namespace: 'a' });
    assert.deepEqual(inA.items.map((p) => p.metadata?.name), ['a-1', 'a-2']);
    const web = await core.listPodForAllNamespaces({ labelSelector: 'app=web,tier' });
    assert.deepEqual(web.items.map((p) => p.metadata?.name), ['a-1']);
    const notWeb = await core.listPodForAllNamespaces({ labelSelector: 'app notin (web)' });
    assert.deepEqual(notWeb.items.map((p) => p.metadata?.name), ['b-1']);
    const running = await core.listPodForAllNamespaces({ fieldSelector: 'status.phase=Running,metadata.namespace!=b' });
    assert.deepEqual(running.items.map((p) => p.metadata?.name), ['a-1']);
    await assert.rejects(core.listPodForAllNamespaces({ labelSelector: 'app in (' }), /400/);
  });

  test('pages with limit and continue, from one snapshot', async () => {
    const first = await core.listPodForAllNamespaces({ limit: 2 });
    assert.deepEqual(first.items.map((p) => p.metadata?.name), ['a-1', 'a-2']);
    assert.equal(first.metadata?.remainingItemCount, 1);
    const token = first.metadata?._continue;
    assert.ok(token);
    fake.create(pod({ name: 'c-1', namespace: 'c' }));
    const second = await core.listPodForAllNamespaces({ limit: 2, _continue: token });
    assert.deepEqual(second.items.map((p) => p.metadata?.name), ['b-1']);
    assert.equal(second.metadata?.resourceVersion, first.metadata?.resourceVersion);
    assert.equal(second.metadata?._continue, undefined);
    fake.delete(pod({ name: 'c-1', namespace: 'c' }));
  });

  test('gets one object, 404 for a missing one, and serves the custom resource', async () => {
    const found = await core.readNamespacedPod({ namespace: 'a', name: 'a-1' });
    assert.equal(found.status?.podIP, '10.0.0.1');
    await assert.rejects(core.readNamespacedPod({ namespace: 'a', name: 'nope' }), /404/);
    fake.create(serviceProfile({ service: 'web', namespace: 'a', spec: { routes: [] } }));
    const custom = kc.makeApiClient(CustomObjectsApi);
    const list = (await custom.listClusterCustomObject({ group: 'sluice.dev', version: 'v1alpha2', plural: 'serviceprofiles' })) as {
      items: Array<{ metadata: { name: string } }>;
    };
    assert.deepEqual(list.items.map((p) => p.metadata.name), ['web.a.svc.cluster.local']);
  });

  test('makeInformer lists, then sees adds, updates and deletes', async () => {
    const informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/a/pods', () => core.listNamespacedPod({ namespace: 'a' }));
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update ${p.metadata?.name} ${p.status?.phase}`));
    informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
    await informer.start();
    await until(() => fake.openWatches === 1);
    fake.update(pod({ name: 'a-2', namespace: 'a', ip: '10.0.0.2', labels: { app: 'web' }, phase: 'Running' }));
    fake.create(pod({ name: 'a-3', namespace: 'a' }));
    fake.create(pod({ name: 'elsewhere', namespace: 'b' }));
    fake.delete(pod({ name: 'a-3', namespace: 'a' }));
    await until(() => seen.length === 5);
    await informer.stop();
    assert.deepEqual(seen, ['add a-1', 'add a-2', 'update a-2 Running', 'add a-3', 'delete a-3']);
    assert.deepEqual(informer.list('a').map((p) => p.metadata?.name).sort(), ['a-1', 'a-2']);
    fake.delete(pod({ name: 'elsewhere', namespace: 'b' }));
  });

  test('watch without a version starts with synthetic ADDED; with one it replays what followed', async () => {
    const rv = fake.resourceVersion;
    fake.create(pod({ name: 'x', namespace: 'w', labels: { app: 'x' } }));
    const fresh = await openWatch(kc, '/api/v1/namespaces/w/pods', {});
    const resumed = await openWatch(kc, '/api/v1/namespaces/w/pods', { resourceVersion: rv });
    await until(() => fresh.events.length === 1 && resumed.events.length === 1);
    assert.deepEqual(names(fresh.events), ['ADDED x']);
    assert.deepEqual(names(resumed.events), ['ADDED x']);
    fresh.stop();
    resumed.stop();
    await until(() => fake.openWatches === 0);
    fake.delete(pod({ name: 'x', namespace: 'w' }));
  });

  test('an object that leaves or enters a label selector is DELETED or ADDED for that watch', async () => {
    fake.create(pod({ name: 's', namespace: 'sel', labels: { app: 'one' } }));
    const w = await openWatch(kc, '/api/v1/pods', { labelSelector: 'app=one' });
    fake.update(pod({ name: 's', namespace: 'sel', labels: { app: 'two' } }));
    fake.update(pod({ name: 's', namespace: 'sel', labels: { app: 'one' } }));
    fake.update(pod({ name: 's', namespace: 'sel', labels: { app: 'one' }, phase: 'Failed' }));
    await until(() => w.events.length === 4);
    assert.deepEqual(names(w.events), ['ADDED s', 'DELETED s', 'ADDED s', 'MODIFIED s']);
    w.stop();
    fake.delete(pod({ name: 's', namespace: 'sel' }));
  });

  test('bookmarks only when asked, carrying the current version', async () => {
    const plain = await openWatch(kc, '/api/v1/namespaces/none/pods', { resourceVersion: fake.resourceVersion });
    const marked = await openWatch(kc, '/api/v1/namespaces/none/pods', { resourceVersion: fake.resourceVersion, allowWatchBookmarks: 'true' });
    await until(() => marked.events.length >= 2);
    assert.equal(plain.events.length, 0);
    assert.equal(marked.events[0]?.type, 'BOOKMARK');
    assert.equal(marked.events[0]?.object.metadata?.resourceVersion, fake.resourceVersion);
    plain.stop();
    marked.stop();
  });

  test('410 Expired for a version older than the history kept', async () => {
    const old = fake.resourceVersion;
    fake.create(pod({ name: 'gone', namespace: 'h' }));
    fake.compactHistory();
    const w = await openWatch(kc, '/api/v1/pods', { resourceVersion: old });
    assert.equal(await w.done, null);
    assert.deepEqual(w.events.map((e) => [e.type, e.object.code, e.object.reason]), [['ERROR', 410, 'Expired']]);
    // A watch from the current version is fine.
    const ok = await openWatch(kc, '/api/v1/pods', { resourceVersion: fake.resourceVersion });
    fake.delete(pod({ name: 'gone', namespace: 'h' }));
    await until(() => ok.events.length === 1);
    ok.stop();

    const limited = await FakeKube.start({ historyLimit: 2 });
    try {
      const start = limited.resourceVersion;
      for (const n of ['p1', 'p2', 'p3']) limited.create(pod({ name: n }));
      const lkc = kubeConfigFor(limited);
      const tooOld = await openWatch(lkc, '/api/v1/pods', { resourceVersion: start });
      await tooOld.done;
      assert.equal(tooOld.events[0]?.object.code, 410);
      const recent = await openWatch(lkc, '/api/v1/pods', { resourceVersion: String(Number(start) + 1) });
      await until(() => recent.events.length === 2);
      assert.deepEqual(names(recent.events), ['ADDED p2', 'ADDED p3']);
      recent.stop();
    } finally {
      await limited.close();
    }
  });

  test('dropWatches cuts connections; fail() injects errors; requests are counted', async () => {
    const w = await openWatch(kc, '/api/v1/pods', { resourceVersion: fake.resourceVersion });
    const e = await openWatch(kc, '/api/v1/pods', { resourceVersion: fake.resourceVersion });
    await until(() => fake.openWatches === 2);
    const watchesBefore = fake.count('watch', 'pods');
    fake.dropWatches('reset');
    assert.ok((await w.done) instanceof Error, 'a reset watch ends with an error');
    await e.done;
    assert.equal(fake.openWatches, 0);
    const ended = await openWatch(kc, '/api/v1/pods', { resourceVersion: fake.resourceVersion });
    fake.dropWatches('end');
    assert.equal(await ended.done, null, 'an ended watch finishes cleanly');
    assert.equal(fake.count('watch', 'pods'), watchesBefore + 1);

    fake.fail(['list'], 500);
    await assert.rejects(core.listPodForAllNamespaces(), /500/);
    fake.heal();
    await core.listPodForAllNamespaces();
    assert.ok(fake.count('list', 'pods') >= 2);
  });

  test('answers /version and SelfSubjectAccessReviews as the test sets them, and serves the kinds install creates', async () => {
    const { VersionApi, AuthorizationV1Api, ApiextensionsV1Api } = await import('@kubernetes/client-node');
    assert.equal((await kc.makeApiClient(VersionApi).getCode()).gitVersion, 'v1.30.2');
    fake.version = { major: '1', minor: '21', gitVersion: 'v1.21.0', platform: 'linux/arm64' };
    assert.equal((await kc.makeApiClient(VersionApi).getCode()).minor, '21');

    const authorization = kc.makeApiClient(AuthorizationV1Api);
    const ask = async (resource: string): Promise<boolean | undefined> =>
      (await authorization.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb: 'create', group: 'apps', resource, namespace: 'sluice' } } } })).status?.allowed;
    assert.equal(await ask('deployments'), true);
    const asked: string[] = [];
    fake.allow = (q) => (asked.push(`${q.verb} ${q.group}/${q.resource} in ${q.namespace}`), q.resource !== 'deployments');
    assert.equal(await ask('deployments'), false);
    assert.deepEqual(asked, ['create apps/deployments in sluice']);

    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'servers.policy.sluice.dev' }, spec: {} };
    fake.create(crd);
    const read = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'servers.policy.sluice.dev' });
    assert.equal(read.metadata?.name, 'servers.policy.sluice.dev');
  });
});

describe('FakeKube TokenReviews', () => {
  test('answers POSTed TokenReviews as configured and records what was asked', { timeout: 10_000 }, async () => {
    const fake = await FakeKube.start();
    try {
      const api = kubeConfigFor(fake).makeApiClient(AuthenticationV1Api);
      const review = (token: string) =>
        api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['aud'] } } });
      assert.equal((await review('anything')).status?.authenticated, false, 'no token is authenticated by default');
      fake.reviewTokens((spec) =>
        spec.token === 'good' ? { authenticated: true, user: { username: 'system:serviceaccount:ns:sa' }, audiences: spec.audiences } : { authenticated: false },
      );
      const answer = await review('good');
      assert.equal(answer.status?.authenticated, true);
      assert.equal(answer.status?.user?.username, 'system:serviceaccount:ns:sa');
      assert.deepEqual(answer.status?.audiences, ['aud']);
      assert.deepEqual(fake.tokenReviews, [
        { token: 'anything', audiences: ['aud'] },
        { token: 'good', audiences: ['aud'] },
      ]);
      assert.equal(fake.count('create', 'tokenreviews'), 2);
      fake.fail(['create'], 503);
      await assert.rejects(review('good'));
    } finally {
      await fake.close();
    }
  });
});

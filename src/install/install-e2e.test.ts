// `sluice install` end to end without a cluster: its manifests applied to the project's fake API
// server, a workload injected with the values install stored, and the real controller process started
// the way the Deployment starts it (its flags; a kubeconfig standing in for the in-cluster account).
// It becomes ready, discovers the injected pod as meshed, answers Destination Get for it, and serves
// the webhook with the certificate the MutatingWebhookConfiguration's caBundle trusts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { renderInstall } from '../cli/install.ts';
import { decodeTcpAddress } from '../control/destination/addr.ts';
import { destinationClient, StreamReader } from '../control/destination/testkit.ts';
import { inject } from '../inject/inject.ts';
import type { Values } from '../inject/values.ts';
import { kubeconfigFile } from '../../test/fake-kube/client.ts';
import { endpointSlice, namespace, pod, replicaSet, service } from '../../test/fake-kube/objects.ts';
import { FakeKube, type KubeObject } from '../../test/fake-kube/server.ts';
import { startControllerProcess, type ControllerProcess } from '../../test/support/controller-process.ts';
import { freePort } from '../../test/support/net.ts';
import { sendReport, syntheticReport } from '../control/telemetry/testkit.ts';

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
        - name: app
          image: example/web:1
          ports: [{containerPort: 8080, name: http}]
`;

/**
 * What the kubelet does for the controller's volumes: writes each ConfigMap's and Secret's keys as
 * files under a folder of `root`; returns the mount paths mapped to those folders.
 */
function mountVolumes(fake: FakeKube, podSpec: any, root: string): Map<string, string> {
  const mounts = new Map<string, string>();
  const container = podSpec.containers[0];
  for (const volume of podSpec.volumes as Array<Record<string, any>>) {
    const source = volume['secret']
      ? fake.get({ apiVersion: 'v1', kind: 'Secret', metadata: { name: volume['secret'].secretName, namespace: 'sluice' } })
      : fake.get({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: volume['configMap'].name, namespace: 'sluice' } });
    assert.ok(source, `the ${volume['name']} volume's source was applied`);
    const folder = path.join(root, volume['name']);
    mkdirSync(folder);
    for (const [key, value] of Object.entries(source['data'] as Record<string, string>)) {
      writeFileSync(path.join(folder, key), volume['secret'] ? Buffer.from(value, 'base64') : value);
    }
    const mount = (container.volumeMounts as Array<{ name: string; mountPath: string }>).find((m) => m.name === volume['name']);
    assert.ok(mount);
    mounts.set(mount.mountPath, folder);
  }
  return mounts;
}

/**
 * Starts the controller as the Deployment in `manifests` runs it: its flags, its volumes as files,
 * a kubeconfig for `fake`; listening on 127.0.0.1 (the proxy API on `proxyApiPort`, else any port),
 * and with `peers` in place of the headless Service's name when given.
 */
async function startAsDeployment(fake: FakeKube, manifests: readonly KubeObject[], o: { proxyApiPort?: number; peers?: string } = {}): Promise<ControllerProcess> {
  const podSpec = (manifests.find((m) => m.kind === 'Deployment')?.['spec'] as any).template.spec;
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-install-e2e-'));
  const mounts = mountVolumes(fake, podSpec, dir);
  const args = (podSpec.containers[0].args as string[])
    .filter((a) => !/^--(proxy-api|public-api|admin|identity|webhook|dashboard)-addr=/.test(a) && !(o.peers !== undefined && a.startsWith('--peers=')))
    .map((a) => [...mounts].reduce((arg, [mountPath, folder]) => arg.replace(mountPath, folder), a.replace('$(POD_IP)', '127.0.0.1')));
  args.push('--identity-addr=127.0.0.1:0', '--webhook-addr=127.0.0.1:0', `--proxy-api-addr=127.0.0.1:${o.proxyApiPort ?? 0}`);
  if (o.peers !== undefined) args.push(`--peers=${o.peers}`);
  return startControllerProcess(args, { KUBECONFIG: kubeconfigFile(fake, dir) }, 30_000);
}

async function applyInstall(fake: FakeKube, args: string[]): Promise<KubeObject[]> {
  const manifests = parseAllDocuments((await renderInstall(args)) as string).map((d) => d.toJS() as KubeObject);
  for (const object of manifests) fake.apply(object);
  return manifests;
}

describe('install, then the controller against the fake API server', { timeout: 90_000 }, () => {
  let fake: FakeKube;
  let controller: ControllerProcess;

  before(async () => {
    fake = await FakeKube.start();
    const manifests = await applyInstall(fake, []);
    webhookConfig = manifests.find((o) => o.kind === 'MutatingWebhookConfiguration') as KubeObject;

    // The app, injected with the values install stored for the injector.
    const stored = fake.get({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sluice-config', namespace: 'sluice' } });
    const values = parseYaml((stored?.['data'] as Record<string, string>)['values'] as string) as Values;
    const result = inject(parseYaml(APP), { values, createdBy: 'sluice/cli test' });
    assert.equal(result.outcome, 'injected');
    const deployment = (result as { injected: KubeObject }).injected;
    const template = (deployment['spec'] as { template: { metadata: KubeObject['metadata']; spec: Record<string, unknown> } }).template;
    fake.apply(namespace('shop'));
    fake.apply(deployment);
    fake.apply(replicaSet('web-7c9d', 'shop', { kind: 'Deployment', name: 'web' }));
    fake.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...template.metadata,
        name: 'web-7c9d-1',
        namespace: 'shop',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7c9d', uid: 'uid-web-7c9d', controller: true }],
      },
      spec: template.spec,
      status: { phase: 'Running', podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }], conditions: [{ type: 'Ready', status: 'True' }] },
    });
    fake.apply(service({ name: 'web', namespace: 'shop', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
    fake.apply(endpointSlice({ name: 'web-1', namespace: 'shop', service: 'web', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.5', pod: 'web-7c9d-1', ready: true }] }));

    controller = await startAsDeployment(fake, manifests);
  });

  let webhookConfig: KubeObject;

  after(async () => {
    await controller?.stop();
    await fake?.close();
  });

  it('starts with the Deployment\'s flags and mounted credentials and reports ready on its admin port', async () => {
    const response = await fetch(`http://${controller.admin}/ready`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(response.status, 200);
    assert.match(controller.logs(), /kubernetes discovery/);
  });

  it('discovers the injected pod as meshed', async () => {
    const response = await fetch(`http://${controller.publicApi}/api/v1/ListPods`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5_000) });
    const pods = ((await response.json()) as { pods?: Array<{ name: string; added?: boolean; deployment?: string }> }).pods ?? [];
    const web = pods.find((p) => p.name === 'shop/web-7c9d-1');
    assert.ok(web, JSON.stringify(pods));
    assert.equal(web.added, true, 'meshed');
    assert.equal(web.deployment, 'shop/web');
  });

  it('answers Destination Get for the injected workload with its identity and the h2 hint', async () => {
    const client = destinationClient(controller.proxyApi);
    const stream = new StreamReader(client['Get']?.({ path: 'web.shop.svc.cluster.local:80', context_token: '' }) as never);
    try {
      const update = await stream.next<Record<string, any>>(10_000);
      assert.equal(update['update'], 'add');
      const [endpoint] = update['add'].addrs;
      assert.deepEqual(decodeTcpAddress(endpoint.addr), { ip: '10.1.0.5', port: 8080 });
      assert.equal(endpoint.tls_identity.dns_like_identity.name, 'web.shop.serviceaccount.identity.sluice.cluster.local');
      assert.equal(endpoint.protocol_hint.protocol, 'h2');
      assert.equal(endpoint.metric_labels.deployment, 'web');
    } finally {
      stream.cancel();
      client.close();
    }
  });

  it('serves the webhook with the certificate the API server is told to trust, and injects a pod', async () => {
    const webhook = (webhookConfig['webhooks'] as Array<Record<string, any>>)[0] as Record<string, any>;
    const ca = Buffer.from(webhook['clientConfig'].caBundle as string, 'base64').toString('utf8');
    const injectorAddr = /injector=(\S+)/.exec(controller.logs())?.[1] ?? '';
    const [host, port] = [injectorAddr.slice(0, injectorAddr.lastIndexOf(':')), Number(injectorAddr.slice(injectorAddr.lastIndexOf(':') + 1))];
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'e2e-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'shop',
        operation: 'CREATE',
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-1', namespace: 'shop', annotations: { 'sluice.dev/inject': 'enabled' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
      },
    };
    // As the API server calls it: TLS verified against the caBundle, for the Service's DNS name.
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host, port, method: 'POST', path: webhook['clientConfig'].service.path, ca, servername: 'sluice-proxy-injector.sluice.svc', headers: { 'content-type': 'application/json' }, timeout: 5_000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(review));
    });
    const response = (JSON.parse(body) as { response: { uid: string; allowed: boolean; patch?: string } }).response;
    assert.equal(response.uid, 'e2e-1');
    assert.equal(response.allowed, true);
    const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as Array<{ path: string; value?: any }>;
    assert.ok(patch.some((op) => JSON.stringify(op.value ?? '').includes('"sluice-proxy"')), 'the patch adds the proxy container');
  });
});

describe('--ha: two replicas as the Deployment runs them share telemetry', { timeout: 90_000 }, () => {
  let fake: FakeKube;
  let replicas: ControllerProcess[] = [];

  before(async () => {
    fake = await FakeKube.start();
    const manifests = await applyInstall(fake, ['--ha']);
    fake.apply(namespace('shop'));
    for (const n of [1, 2]) fake.apply(pod({ name: `web-${n}`, namespace: 'shop', ip: `10.1.0.${n}`, owner: { kind: 'ReplicaSet', name: 'web-7c9d' }, meshed: 'container' }));
    fake.apply(replicaSet('web-7c9d', 'shop', { kind: 'Deployment', name: 'web' }));
    // In a cluster both find each other through sluice-controller-peers; here through fixed ports.
    const [a, b] = [await freePort(), await freePort()];
    replicas = await Promise.all([
      startAsDeployment(fake, manifests, { proxyApiPort: a, peers: `127.0.0.1:${b}` }),
      startAsDeployment(fake, manifests, { proxyApiPort: b, peers: `127.0.0.1:${a}` }),
    ]);
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await fake?.close();
  });

  it('answers stat the same on both replicas when each proxy reports to a different one', async () => {
    const [a, b] = replicas as [ControllerProcess, ControllerProcess];
    await sendReport(a.proxyApi, syntheticReport({ namespace: 'shop', pod: 'web-1', workload: 'deployment/web', instance: 'p1', sequence: 1, requests: [{ ok: 30, failed: 3, latencyUs: 1_500 }] }));
    await sendReport(b.proxyApi, syntheticReport({ namespace: 'shop', pod: 'web-2', workload: 'deployment/web', instance: 'p2', sequence: 1, requests: [{ ok: 20, latencyUs: 40_000 }] }));
    const stat = async (r: ControllerProcess): Promise<unknown> => {
      const response = await fetch(`http://${r.publicApi}/api/v1/StatSummary`, {
        method: 'POST',
        body: JSON.stringify({ selector: { resource: { namespace: 'shop', type: 'deployment', name: 'web' } }, time_window: '1m' }),
        signal: AbortSignal.timeout(5_000),
      });
      const row = ((await response.json()) as any).ok?.stat_tables?.[0]?.pod_group?.rows?.[0];
      return { meshed: row?.meshed_pod_count, running: row?.running_pod_count, ...row?.stats };
    };
    const deadline = Date.now() + 10_000;
    let seen: unknown[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all([stat(a), stat(b)]);
      if (seen.every((s) => (s as { success_count?: number }).success_count === 50)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((seen[0] as { success_count?: number }).success_count, 50, JSON.stringify(seen));
    assert.deepEqual(seen[0], seen[1]);
    assert.equal((seen[0] as { failure_count?: number }).failure_count, 3);
    assert.equal((seen[0] as { meshed?: number }).meshed, 2, 'both replicas discover both pods');
  });
});

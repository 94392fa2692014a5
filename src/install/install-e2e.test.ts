// `sluice install` end to end without a cluster: its manifests applied to the project's fake API
// server, a workload injected with the values install stored, and the real controller process started
// the way the Deployment starts it (its flags; a kubeconfig standing in for the in-cluster account).
// It becomes ready, discovers the injected pod as meshed, and answers Destination Get for it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { renderInstall } from '../cli/install.ts';
import { parseControllerConfig } from '../control/config.ts';
import { decodeTcpAddress } from '../control/destination/addr.ts';
import { destinationClient, StreamReader } from '../control/destination/testkit.ts';
import { inject } from '../inject/inject.ts';
import type { Values } from '../inject/values.ts';
import { kubeconfigFile } from '../../test/fake-kube/client.ts';
import { endpointSlice, namespace, replicaSet, service } from '../../test/fake-kube/objects.ts';
import { FakeKube, type KubeObject } from '../../test/fake-kube/server.ts';
import { startControllerProcess, type ControllerProcess } from '../../test/support/controller-process.ts';

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

/** The Deployment's flags that this build's controller knows; the others are reported, not hidden. */
function knownFlags(args: readonly string[]): { known: string[]; unknown: string[] } {
  const known: string[] = [];
  const unknown: string[] = [];
  for (const arg of args) {
    try {
      parseControllerConfig([arg.replace('$(POD_IP)', '127.0.0.1')], {});
      known.push(arg);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw error;
      unknown.push(arg);
    }
  }
  return { known, unknown };
}

describe('install, then the controller against the fake API server', { timeout: 90_000 }, () => {
  let fake: FakeKube;
  let controller: ControllerProcess;
  let unknownFlags: string[] = [];

  before(async () => {
    fake = await FakeKube.start();
    const manifests = parseAllDocuments((await renderInstall([])) as string).map((d) => d.toJS() as KubeObject);
    for (const object of manifests) fake.apply(object);

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

    // The controller as the Deployment runs it, with its ports moved to 127.0.0.1:0.
    const containers = (manifests.find((o) => o.kind === 'Deployment')?.['spec'] as any).template.spec.containers;
    const flags = knownFlags(containers[0].args as string[]);
    unknownFlags = flags.unknown;
    const local = flags.known.filter((a) => !/^--(proxy-api|public-api|admin)-addr=/.test(a)).map((a) => a.replace('$(POD_IP)', '127.0.0.1'));
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-install-e2e-'));
    controller = await startControllerProcess(local, { KUBECONFIG: kubeconfigFile(fake, dir) }, 30_000);
  });

  after(async () => {
    await controller?.stop();
    await fake?.close();
  });

  it('starts with the Deployment\'s flags and reports ready on its admin port', async (t) => {
    if (unknownFlags.length > 0) t.diagnostic(`flags of components not in this build, left out: ${unknownFlags.join(' ')}`);
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
});

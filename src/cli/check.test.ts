// `sluice check` against the fake API server with what `sluice install` printed applied to it: the
// exact output when all is well, and when a CRD is missing, the issuer expires in 30 days and the
// controller pod is not ready; --pre before install; --proxy; -o json; an unreachable API server.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { certificatesToPem, createIssuer, createTrustAnchor, privateKeyToPem } from '../control/identity/pki.ts';
import { kubeconfigFile } from '../../test/fake-kube/client.ts';
import { namespace as namespaceObject } from '../../test/fake-kube/objects.ts';
import { FakeKube, type KubeObject } from '../../test/fake-kube/server.ts';
import { run } from './check.ts';
import { renderInstall } from './install.ts';

const DAY_MS = 24 * 3600_000;
let dir: string;

async function check(fake: FakeKube, args: string[] = []): Promise<{ code: number; out: string }> {
  let out = '';
  const env = { KUBECONFIG: kubeconfigFile(fake, dir), HOME: dir };
  const code = await run(args, { env, stdout: (t) => (out += t), stderr: (t) => (out += t) });
  return { code, out };
}

function controllerPod(ready: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'sluice-controller-5f7d-abcde', namespace: 'sluice', labels: { 'sluice.dev/control-plane-component': 'controller' } },
    spec: { containers: [{ name: 'sluice-controller', image: 'ghcr.io/sluice-mesh/controller:0.1.0' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function meshedPod(name: string, o: { ready: boolean; version: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', annotations: { 'sluice.dev/proxy-version': o.version } },
    spec: { containers: [{ name: 'sluice-proxy', image: `ghcr.io/sluice-mesh/proxy:${o.version}` }, { name: 'app', image: 'app:1' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'sluice-proxy', ready: o.ready }, { name: 'app', ready: true }] },
  };
}

/** A fake API server with `sluice install <args>` applied and a ready controller pod. */
async function installed(args: string[] = []): Promise<FakeKube> {
  const fake = await FakeKube.start();
  for (const doc of parseAllDocuments((await renderInstall(args)) as string)) fake.apply(doc.toJS() as KubeObject);
  fake.apply(controllerPod(true));
  return fake;
}

const HEALTHY = `kubernetes-api
--------------
✔ can initialize the client
✔ can query the Kubernetes API

kubernetes-version
------------------
✔ is running the minimum Kubernetes API version

sluice-existence
----------------
✔ control plane namespace exists
✔ 'sluice-config' config map exists
✔ control plane pods are ready

sluice-config
-------------
✔ control plane CustomResourceDefinitions exist
✔ control plane ClusterRoles exist
✔ control plane ClusterRoleBindings exist
✔ control plane ServiceAccounts exist
✔ control plane MutatingWebhookConfigurations exist

sluice-identity
---------------
✔ certificate config is valid
✔ trust anchors are within their validity period
✔ trust anchors are valid for at least 60 days
✔ issuer cert is within its validity period
✔ issuer cert is valid for at least 60 days
✔ issuer cert is issued by the trust anchor

sluice-webhooks-and-apisvc-tls
------------------------------
✔ proxy-injector webhook has valid cert
✔ proxy-injector cert is valid for at least 60 days

control-plane-version
---------------------
✔ control plane and cli versions match

Status check results are ✔
`;

describe('sluice check', { timeout: 60_000 }, () => {
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-check-'));
  });

  describe('after install', () => {
    let fake: FakeKube;
    beforeEach(async () => {
      fake = await installed();
    });
    afterEach(() => fake.close());

    it('passes every check on a healthy control plane', async () => {
      assert.deepEqual(await check(fake), { code: 0, out: HEALTHY });
    });

    it('fails with a message and a hint for a missing CRD and a control plane pod that is not ready', async () => {
      fake.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'servers.policy.sluice.dev' } });
      fake.apply(controllerPod(false));
      const { code, out } = await check(fake);
      assert.equal(code, 1);
      assert.ok(
        out.includes(`× control plane pods are ready
    pod sluice-controller-5f7d-abcde is not ready
    hint: kubectl -n <namespace> describe pods -l sluice.dev/control-plane-component; kubectl -n <namespace> logs deploy/sluice-controller
`),
        out,
      );
      assert.ok(
        out.includes(`× control plane CustomResourceDefinitions exist
    missing CustomResourceDefinitions: servers.policy.sluice.dev
    hint: sluice install | kubectl apply -f -
`),
        out,
      );
      assert.ok(out.endsWith('Status check results are ×\n'), out);
    });

    it('says "No running pods" when the controller has none', async () => {
      fake.delete(controllerPod(true));
      const { code, out } = await check(fake);
      assert.equal(code, 1);
      assert.match(out, /× control plane pods are ready\n {4}No running pods for "sluice-controller"\n/);
    });

    it('stops at once when the control plane namespace does not exist', async () => {
      fake.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sluice' } });
      const { code, out } = await check(fake);
      assert.equal(code, 1);
      assert.ok(out.endsWith(`sluice-existence
----------------
× control plane namespace exists
    Namespace sluice not found
    hint: sluice install | kubectl apply -f -

Status check results are ×
`), out);
    });

    it('with --proxy checks that every meshed pod is ready and on the CLI version', async () => {
      fake.apply(namespaceObject('shop'));
      fake.apply(meshedPod('web-1', { ready: true, version: '0.1.0' }));
      assert.match((await check(fake, ['--proxy'])).out, /sluice-data-plane\n-+\n✔ data plane namespace exists\n✔ data plane proxies are ready\n✔ data plane and cli versions match\n/);
      fake.apply(meshedPod('web-2', { ready: false, version: '0.0.9' }));
      const { code, out } = await check(fake, ['--proxy', '-n', 'shop']);
      assert.equal(code, 1);
      assert.ok(
        out.includes(`× data plane proxies are ready
    pod web-2: container sluice-proxy is not ready
    hint: kubectl describe pod <pod>; kubectl logs <pod> -c sluice-proxy
‼ data plane and cli versions match
    shop/web-2 running 0.0.9 but cli running 0.1.0
`),
        out,
      );
    });

    it('prints Linkerd\'s JSON shape with -o json', async () => {
      fake.apply(controllerPod(false));
      const { code, out } = await check(fake, ['-o', 'json']);
      assert.equal(code, 1);
      const report = JSON.parse(out) as { success: boolean; categories: Array<{ categoryName: string; checks: Array<Record<string, string>> }> };
      assert.equal(report.success, false);
      const existence = report.categories.find((c) => c.categoryName === 'sluice-existence');
      assert.deepEqual(existence?.checks[2], {
        description: 'control plane pods are ready',
        hint: 'kubectl -n <namespace> describe pods -l sluice.dev/control-plane-component; kubectl -n <namespace> logs deploy/sluice-controller',
        error: 'pod sluice-controller-5f7d-abcde is not ready',
        result: 'error',
      });
      assert.deepEqual(existence?.checks[0], { description: 'control plane namespace exists', result: 'success' });
    });

    it('fails on an API server older than 1.22', async () => {
      fake.version = { major: '1', minor: '20', gitVersion: 'v1.20.15', platform: 'linux/amd64' };
      const { code, out } = await check(fake);
      assert.equal(code, 1);
      assert.match(out, /× is running the minimum Kubernetes API version\n {4}Kubernetes is on version v1.20.15, but version 1.22 or later is required\n/);
    });
  });

  it('warns (exit 0) when the issuer expires within 60 days', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor, { lifetimeMs: 30 * DAY_MS });
    const files = ['ca.crt', 'issuer.crt', 'issuer.key'].map((f) => path.join(dir, f)) as [string, string, string];
    writeFileSync(files[0], certificatesToPem([anchor.certificate]));
    writeFileSync(files[1], certificatesToPem([issuer.certificate]));
    writeFileSync(files[2], await privateKeyToPem(issuer.privateKey));
    const fake = await installed(['--identity-trust-anchors-file', files[0], '--identity-issuer-certificate-file', files[1], '--identity-issuer-key-file', files[2]]);
    try {
      const { code, out } = await check(fake);
      assert.equal(code, 0);
      const expiry = issuer.certificate.notAfter.toISOString();
      assert.ok(
        out.includes(`✔ issuer cert is within its validity period
‼ issuer cert is valid for at least 60 days
    "CN=identity.sluice.cluster.local" expires on ${expiry} (in 29 days)
    hint: sluice install --identity-trust-anchors-file … --identity-issuer-certificate-file … --identity-issuer-key-file … | kubectl apply -f - (docs/install.md, Upgrade)
✔ issuer cert is issued by the trust anchor
`),
        out,
      );
      assert.ok(out.endsWith('Status check results are ✔\n'));
    } finally {
      await fake.close();
    }
  });

  describe('--pre', () => {
    let fake: FakeKube;
    before(async () => {
      fake = await FakeKube.start();
    });
    after(() => fake.close());

    it('passes on a cluster without Sluice where the user may create everything', async () => {
      assert.deepEqual(await check(fake, ['--pre']), {
        code: 0,
        out: `kubernetes-api
--------------
✔ can initialize the client
✔ can query the Kubernetes API

kubernetes-version
------------------
✔ is running the minimum Kubernetes API version

pre-kubernetes-setup
--------------------
✔ control plane namespace does not already exist
✔ can create non-namespaced resources
✔ can create namespaced resources

Status check results are ✔
`,
      });
    });

    it('fails when the namespace exists and the user may not create CRDs or webhooks', async () => {
      fake.apply(namespaceObject('sluice'));
      fake.allow = (q) => q.resource !== 'customresourcedefinitions' && q.resource !== 'mutatingwebhookconfigurations';
      const { code, out } = await check(fake, ['--pre']);
      assert.equal(code, 1);
      assert.ok(
        out.includes(`× control plane namespace does not already exist
    The "sluice" namespace already exists
    hint: sluice uninstall | kubectl delete -f -, or install into another namespace
× can create non-namespaced resources
    not allowed to create customresourcedefinitions.apiextensions.k8s.io, mutatingwebhookconfigurations.admissionregistration.k8s.io
    hint: install with an account that may create these (e.g. cluster-admin)
✔ can create namespaced resources
`),
        out,
      );
    });
  });

  it('stops after the first category when the API server cannot be reached', async () => {
    const fake = await FakeKube.start();
    const file = kubeconfigFile(fake, dir);
    await fake.close();
    let out = '';
    const code = await run([], { env: { KUBECONFIG: file, HOME: dir }, stdout: (t) => (out += t), stderr: (t) => (out += t) });
    assert.equal(code, 1);
    assert.match(out, /^kubernetes-api\n-+\n✔ can initialize the client\n× can query the Kubernetes API\n {4}.*ECONNREFUSED[^]*\n {4}hint: kubectl version: is the API server up, and reachable from here\?\n\nStatus check results are ×\n$/);
  });

  it('reports a kubeconfig it cannot use', async () => {
    let out = '';
    const code = await run(['--kubeconfig', path.join(dir, 'missing')], { env: {}, stdout: (t) => (out += t), stderr: () => {} });
    assert.equal(code, 1);
    assert.match(out, /× can initialize the client\n {4}.*missing/);
  });
});

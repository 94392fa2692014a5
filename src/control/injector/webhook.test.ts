// The proxy injector end to end: the real `sluice-controller` process, discovering from the fake API
// server, serves the webhook over TLS; AdmissionReviews are POSTed with node:https trusting the test CA,
// and the returned JSON Patch, applied, gives the same pod as `sluice inject` gives the Deployment's
// template.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeKube } from '../../../test/fake-kube/server.ts';
import { inject } from '../../inject/inject.ts';
import { applyPatch, type PatchOp } from '../../inject/json-patch.ts';
import { fixtureObjects, fixturePath, testValues, validateKubernetesObject } from '../../inject/testkit.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const file = (name: string): string => fileURLToPath(new URL(name, FIXTURES));
const CONTROLLER = fileURLToPath(new URL('../../../bin/sluice-controller.js', import.meta.url));
const CA = (await import('node:fs')).readFileSync(file('ca.pem'));

type Obj = Record<string, any>;

interface Review {
  status: number;
  body: Obj;
}

/** `ca: null` trusts only the system's CAs (which do not know the test CA). */
function post(port: number, body: unknown, ca: Buffer | null = CA): Promise<Review> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/inject', method: 'POST', ca: ca ?? undefined, servername: 'localhost', headers: { 'content-type': 'application/json' }, timeout: 5000 },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Obj }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(text);
  });
}

function admissionReview(object: unknown, extra: Obj = {}): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b0a6c3f8-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'emojivoto',
      object,
      ...extra,
    },
  };
}

/** The pod the ReplicaSet of the fixture's `web` Deployment would create. */
function podOfWeb(template: Obj, namespace = 'emojivoto'): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-5d8f7c9b4-',
      namespace,
      labels: { ...template.metadata.labels, 'pod-template-hash': '5d8f7c9b4' },
      annotations: { ...template.metadata.annotations },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'u1', controller: true, blockOwnerDeletion: true }],
    },
    spec: structuredClone(template.spec),
  };
}

function patchOf(review: Review): PatchOp[] {
  assert.equal(review.status, 200);
  assert.equal(review.body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(review.body.kind, 'AdmissionReview');
  assert.equal(review.body.response.uid, 'b0a6c3f8-0000-4000-8000-000000000001');
  assert.equal(review.body.response.allowed, true);
  if (review.body.response.patch === undefined) return [];
  assert.equal(review.body.response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(review.body.response.patch as string, 'base64').toString('utf8')) as PatchOp[];
}

describe('proxy injector webhook (controller process, fake API server, TLS)', { timeout: 60_000 }, () => {
  let kube: FakeKube;
  let controller: ChildProcess;
  let port = 0;
  let dir = '';
  let logs = '';
  const web = fixtureObjects('workloads.yaml').find((o) => (o.metadata as Obj).name === 'web') as Obj;

  before(async () => {
    kube = await FakeKube.start();
    kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'emojivoto', annotations: { 'sluice.dev/inject': 'enabled' } } });
    kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } });
    kube.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-5d8f7c9b4', namespace: 'emojivoto', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u0', controller: true }] },
      spec: { selector: { matchLabels: { app: 'web' } } },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-webhook-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: kube.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'test', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'test' } }],
        'current-context': 'fake',
      }),
    );
    controller = spawn(
      process.execPath,
      [
        CONTROLLER,
        '--discovery=kubernetes',
        '--proxy-api-addr=127.0.0.1:0',
        '--public-api-addr=127.0.0.1:0',
        '--webhook-addr=127.0.0.1:0',
        `--webhook-tls-cert=${file('tls.crt')}`,
        `--webhook-tls-key=${file('tls.key')}`,
        `--identity-trust-anchors-file=${fixturePath('trust-anchors.pem')}`,
      ],
      // Other components' fixed ports (the admin server) moved off their defaults for parallel runs.
      { env: { ...process.env, KUBECONFIG: kubeconfig, SLUICE_CONTROLLER_ADMIN_ADDR: '127.0.0.1:0' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    controller.stderr?.setEncoding('utf8');
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`controller not ready in 30 s:\n${logs}`)), 30_000);
      controller.stderr?.on('data', (chunk: string) => {
        logs += chunk;
        const m = /controller ready.* injector=127\.0\.0\.1:(\d+)/.exec(logs);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      controller.on('exit', (code) => reject(new Error(`controller exited ${code}:\n${logs}`)));
    });
  });

  after(async () => {
    controller?.kill('SIGTERM');
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('injects a pod of an opted-in namespace: the patch gives the pod `sluice inject` gives', async () => {
    const pod = podOfWeb(web.spec.template);
    const patched = applyPatch(pod, patchOf(await post(port, admissionReview(pod)))) as Obj;
    const cli = inject(web, { values: testValues(), createdBy: 'sluice/cli 0.1.0' });
    assert.equal(cli.outcome, 'injected');
    const template = (cli as { injected: Obj }).injected.spec.template;
    assert.deepEqual(patched.spec, template.spec);
    assert.deepEqual(patched.metadata.labels, { ...template.metadata.labels, 'pod-template-hash': '5d8f7c9b4' });
    assert.deepEqual(patched.metadata.annotations, { ...template.metadata.annotations, 'sluice.dev/created-by': 'sluice/proxy-injector 0.1.0' });
    validateKubernetesObject(patched);
  });

  it('leaves pods alone that did not opt in, run on the host network or carry a proxy already', async () => {
    const plain = podOfWeb(web.spec.template, 'plain');
    assert.deepEqual(patchOf(await post(port, admissionReview(plain, { namespace: 'plain' }))), []);
    const host = podOfWeb(web.spec.template);
    host.spec.hostNetwork = true;
    assert.deepEqual(patchOf(await post(port, admissionReview(host))), []);
    const injected = applyPatch(podOfWeb(web.spec.template), patchOf(await post(port, admissionReview(podOfWeb(web.spec.template)))));
    assert.deepEqual(patchOf(await post(port, admissionReview(injected))), []);
    assert.deepEqual(patchOf(await post(port, admissionReview(podOfWeb(web.spec.template), { operation: 'UPDATE' }))), []);
    assert.deepEqual(patchOf(await post(port, admissionReview(web, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }))), []);
  });

  it('a pod annotation opts in where the namespace cannot be read; the owner falls back to the ReplicaSet', async () => {
    const pod = podOfWeb(web.spec.template, 'gone');
    pod.metadata.annotations['sluice.dev/inject'] = 'enabled';
    const patched = applyPatch(pod, patchOf(await post(port, admissionReview(pod, { namespace: 'gone' })))) as Obj;
    assert.equal(patched.spec.containers[0].name, 'sluice-proxy');
    assert.equal(patched.metadata.labels['sluice.dev/proxy-replicaset'], 'web-5d8f7c9b4');
    assert.match(logs, /cannot read the namespace; only the pod annotation counts pod="gone\/web-5d8f7c9b4-\*" error="HTTP 404: namespaces \\"gone\\" not found"/);
  });

  it('never blocks a pod on a bad annotation: allowed, unchanged, logged', async () => {
    const pod = podOfWeb(web.spec.template);
    pod.metadata.annotations['config.sluice.dev/proxy-memory-limit'] = 'plenty';
    assert.deepEqual(patchOf(await post(port, admissionReview(pod))), []);
    assert.match(logs, /pod not injected .*proxy-memory-limit/);
  });

  it('answers 400 to what is not an AdmissionReview, and refuses clients that do not trust its certificate', async () => {
    assert.equal((await post(port, '{"kind":"Pod"}')).status, 400);
    assert.equal((await post(port, 'not json')).status, 400);
    await assert.rejects(post(port, admissionReview({}), null), /self-signed|unable to verify|certificate/);
  });
});

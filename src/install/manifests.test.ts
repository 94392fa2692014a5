// What `sluice install` and `sluice uninstall` print: every object valid by the Kubernetes schemas
// (kubernetes-models, offline; CRDs by the apiextensions schema), output stable for the same keys,
// the Deployment's flags accepted by the controller, the webhook's CA bundle trusting its serving
// certificate, --ha, user-given identity files, and bad input.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import * as admissionregistration from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as apiextensions from 'kubernetes-models/apiextensions.k8s.io/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { renderInstall } from '../cli/install.ts';
import { run as runUninstall } from '../cli/uninstall.ts';
import { parseControllerConfig } from '../control/config.ts';
import { tapAttributes } from '../control/tap/authorize.ts';
import { certificatesToPem, createIssuer, createTrustAnchor, privateKeyToPem } from '../control/identity/pki.ts';
import { defaultValues, mergeValues } from '../inject/values.ts';
import { generateIdentity, generateWebhookCredentials } from './credentials.ts';
import { installObjects, renderYaml } from './manifests.ts';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/** The kubernetes-models class for each kind install prints: `validate()` throws on a schema violation. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac.ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac.ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': apiextensions.CustomResourceDefinition,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': admissionregistration.MutatingWebhookConfiguration,
};

function parse(yaml: string): Obj[] {
  return parseAllDocuments(yaml).map((doc) => {
    assert.deepEqual(doc.errors, [], 'the output is valid YAML');
    return doc.toJS() as Obj;
  });
}

const install = async (args: string[] = []): Promise<Obj[]> => parse((await renderInstall(args)) as string);
const find = (objects: Obj[], kind: string, name?: string): Obj => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `${kind} ${name ?? ''} is printed`);
  return found;
};
const decode = (b64: unknown): string => Buffer.from(String(b64), 'base64').toString('utf8');

describe('sluice install', { timeout: 30_000 }, () => {
  it('prints only objects that the Kubernetes schemas accept', async () => {
    for (const ha of [[], ['--ha']]) {
      const objects = await install(ha);
      for (const object of objects) {
        const Model = MODELS[`${object.apiVersion}/${object.kind}`];
        assert.ok(Model, `a schema for ${object.apiVersion} ${object.kind}`);
        assert.doesNotThrow(() => new Model(object as never).validate(), `${object.kind} ${object.metadata.name}`);
      }
    }
  });

  it('the schema check catches a broken object (it is not a test that cannot fail)', () => {
    const broken = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'three', selector: {}, template: {} } };
    assert.throws(() => new apps.Deployment(broken as never).validate());
  });

  it('prints the namespace, the CRDs, RBAC, configuration, credentials, Services, the controller and the webhook, in that order', async () => {
    const objects = await install();
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'Namespace/sluice',
        'CustomResourceDefinition/serviceprofiles.sluice.dev',
        'CustomResourceDefinition/servers.policy.sluice.dev',
        'CustomResourceDefinition/serverauthorizations.policy.sluice.dev',
        'ClusterRole/sluice-controller-sluice',
        'ClusterRoleBinding/sluice-controller-sluice',
        'ClusterRole/sluice-tap-sluice',
        'ClusterRole/sluice-tap-admin-sluice',
        'ClusterRoleBinding/sluice-dashboard-tap-sluice',
        'ServiceAccount/sluice-controller',
        'ConfigMap/sluice-config',
        'ConfigMap/sluice-identity-trust-roots',
        'Secret/sluice-identity-issuer',
        'Secret/sluice-proxy-injector-tls',
        'Service/sluice-destination',
        'Service/sluice-identity',
        'Service/sluice-proxy-injector',
        'Service/sluice-public-api',
        'Service/sluice-controller-peers',
        'Deployment/sluice-controller',
        'MutatingWebhookConfiguration/sluice-proxy-injector-webhook-config-sluice',
      ],
    );
    assert.equal(find(objects, 'Service', 'sluice-controller-peers')['spec'] && (find(objects, 'Service', 'sluice-controller-peers')['spec'] as { clusterIP: string }).clusterIP, 'None');
  });

  it('writes plain YAML: no anchors or aliases, PEMs as literal blocks', async () => {
    const yaml = (await renderInstall(['--ha'])) as string;
    assert.doesNotMatch(yaml, /[&*]a\d/);
    assert.match(yaml, /ca-bundle\.crt: \|\n {4}-----BEGIN CERTIFICATE-----\n/);
  });

  it('renders the same bytes for the same values and keys', async () => {
    const values = defaultValues('1.2.3');
    const identity = await generateIdentity(values);
    const webhook = await generateWebhookCredentials(values);
    const input = { values: mergeValues(values, { identity: { trustAnchorsPEM: identity.anchorsPem } }), ha: true, identity, webhook };
    assert.equal(renderYaml(installObjects(input)), renderYaml(installObjects(input)));
  });

  it('gives the controller flags it accepts, its probes on the admin port, and its mounted credentials', async () => {
    const deployment = find(await install(), 'Deployment') as unknown as {
      spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<Record<string, any>>; volumes: Array<Record<string, any>> } } };
    };
    const container = deployment.spec.template.spec.containers[0] as Record<string, any>;
    assert.equal(container['image'], 'ghcr.io/sluice-mesh/controller:0.1.0');
    assert.deepEqual(container['livenessProbe'].httpGet, { path: '/live', port: 'admin-http' });
    assert.deepEqual(container['readinessProbe'].httpGet, { path: '/ready', port: 'admin-http' });
    assert.deepEqual(
      container['ports'].map((p: { containerPort: number }) => p.containerPort),
      [8086, 8080, 8443, 8085, 9990, 8084],
    );
    // Every flag must be one the controller accepts (mount paths need not exist to parse).
    const args = (container['args'] as string[]).map((a) => a.replace('$(POD_IP)', '10.0.0.7'));
    const config = parseControllerConfig(args, {});
    assert.notEqual(config, 'help');
    if (config === 'help') return;
    assert.deepEqual(config.adminAddr, { host: '0.0.0.0', port: 9990 });
    assert.deepEqual(config.dashboard, { addr: { host: '0.0.0.0', port: 8084 }, fallbackToFreePort: false });
    assert.deepEqual(config.peers, { kind: 'dns', host: 'sluice-controller-peers.sluice.svc.cluster.local', port: 8086 });
    assert.equal(config.podIp, '10.0.0.7');
    assert.equal(config.discovery, 'kubernetes');
    assert.deepEqual(config.identityIssuerFiles, {
      certificate: '/var/run/sluice/identity/issuer/tls.crt',
      key: '/var/run/sluice/identity/issuer/tls.key',
      anchors: '/var/run/sluice/identity/trust-roots/ca-bundle.crt',
    });
    assert.equal(config.injector?.tlsCert, '/var/run/sluice/proxy-injector/tls.crt');
    assert.equal(config.injector?.valuesFile, '/var/run/sluice/config/values');
    assert.equal(deployment.spec.replicas, 1);
    assert.deepEqual(
      deployment.spec.template.spec.volumes.map((v) => v['secret']?.secretName ?? v['configMap']?.name),
      ['sluice-config', 'sluice-identity-issuer', 'sluice-identity-trust-roots', 'sluice-proxy-injector-tls'],
    );
    assert.equal(container['securityContext'].runAsNonRoot, true);
    assert.equal(container['securityContext'].readOnlyRootFilesystem, true);
  });

  it('gives the webhook a CA bundle that verifies its serving certificate, for the Service name', async () => {
    const objects = await install();
    const webhooks = find(objects, 'MutatingWebhookConfiguration')['webhooks'] as Array<Record<string, any>>;
    const webhook = webhooks[0] as Record<string, any>;
    const ca = new X509Certificate(decode(webhook['clientConfig'].caBundle));
    const secret = find(objects, 'Secret', 'sluice-proxy-injector-tls')['data'] as Record<string, string>;
    const cert = new X509Certificate(decode(secret['tls.crt']));
    assert.ok(cert.verify(ca.publicKey), 'the serving certificate is signed by the CA bundle');
    assert.ok(cert.checkHost('sluice-proxy-injector.sluice.svc'), cert.subjectAltName);
    assert.equal(webhook['failurePolicy'], 'Ignore');
    assert.deepEqual(webhook['clientConfig'].service, { name: 'sluice-proxy-injector', namespace: 'sluice', path: '/', port: 443 });
    // Never the control plane, kube-system, an opted-out namespace, or a control-plane pod.
    assert.deepEqual(webhook['namespaceSelector'].matchExpressions[1], { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'sluice'] });
    assert.deepEqual(webhook['objectSelector'].matchExpressions, [{ key: 'sluice.dev/control-plane-component', operator: 'DoesNotExist' }]);
    const pod = find(objects, 'Deployment')['spec'] as { template: { metadata: { labels: Record<string, string> } } };
    assert.equal(pod.template.metadata.labels['sluice.dev/control-plane-component'], 'controller');
  });

  it('generates an issuer signed by the trust anchors it publishes, and stores the values for the injector', async () => {
    const objects = await install(['--identity-trust-domain', 'example.org', '--proxy-cpu-limit', '2', '--controller-log-level', 'debug']);
    const anchors = (find(objects, 'ConfigMap', 'sluice-identity-trust-roots')['data'] as Record<string, string>)['ca-bundle.crt'] as string;
    const issuer = new X509Certificate(decode((find(objects, 'Secret', 'sluice-identity-issuer')['data'] as Record<string, string>)['tls.crt']));
    assert.ok(issuer.verify(new X509Certificate(anchors).publicKey));
    assert.equal(issuer.subject, 'CN=identity.sluice.example.org');
    const values = parse((find(objects, 'ConfigMap', 'sluice-config')['data'] as Record<string, string>)['values'] as string)[0] as unknown as ReturnType<typeof defaultValues>;
    assert.equal(values.identity.trustAnchorsPEM, anchors);
    assert.equal(values.proxy.resources.cpu.limit, '2');
    assert.ok((find(objects, 'Deployment')['spec'] as any).template.spec.containers[0].args.includes('--log=debug'));
  });

  it('with --ha runs three replicas on different nodes, with a disruption budget and resources', async () => {
    const objects = await install(['--ha']);
    const spec = find(objects, 'Deployment')['spec'] as any;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(spec.template.spec.containers[0].resources.requests, { cpu: '100m', memory: '128Mi' });
    assert.deepEqual((find(objects, 'PodDisruptionBudget')['spec'] as any).maxUnavailable, 1);
  });

  it('uses the anchors and issuer the user gives, unchanged (the upgrade path)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-install-'));
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor);
    const files = { anchors: path.join(dir, 'ca.crt'), cert: path.join(dir, 'issuer.crt'), key: path.join(dir, 'issuer.key') };
    writeFileSync(files.anchors, certificatesToPem([anchor.certificate]));
    writeFileSync(files.cert, certificatesToPem([issuer.certificate]));
    writeFileSync(files.key, await privateKeyToPem(issuer.privateKey));
    const args = ['--identity-trust-anchors-file', files.anchors, '--identity-issuer-certificate-file', files.cert, '--identity-issuer-key-file', files.key];
    const objects = await install(args);
    assert.equal((find(objects, 'ConfigMap', 'sluice-identity-trust-roots')['data'] as any)['ca-bundle.crt'], certificatesToPem([anchor.certificate]));
    assert.equal(decode((find(objects, 'Secret', 'sluice-identity-issuer')['data'] as any)['tls.crt']), certificatesToPem([issuer.certificate]));

    // An issuer from another anchor, a missing file, or only some of the three: clear errors.
    const other = await createTrustAnchor();
    writeFileSync(files.anchors, certificatesToPem([other.certificate]));
    await assert.rejects(renderInstall(args), /not signed by the trust anchors/);
    await assert.rejects(renderInstall(args.slice(0, 2)), /go together: give all three or none/);
    await assert.rejects(renderInstall([...args.slice(0, 4), '--identity-issuer-key-file', path.join(dir, 'nope')]), /cannot read the issuer key/);
  });

  it('refuses bad values with the flag or file position that holds them', async () => {
    await assert.rejects(renderInstall(['--proxy-cpu-limit', 'lots']), /--proxy-cpu-limit/);
    await assert.rejects(renderInstall(['--controller-log-level', 'loud']), /--controller-log-level/);
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-install-'));
    const file = path.join(dir, 'values.yaml');
    writeFileSync(file, 'proxy:\n  resources:\n    cpu:\n      limit: [1]\n');
    await assert.rejects(renderInstall(['--values', file]), new RegExp(`${file}:4:14: proxy.resources.cpu.limit`));
    await assert.rejects(renderInstall(['surplus']), /takes no arguments/);
  });
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** Whether `rules` allow an access review's resource attributes, as Kubernetes RBAC matches them. */
function rulesAllow(rules: readonly Rule[], a: { verb: string; group: string; resource: string; subresource: string }): boolean {
  const combined = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  return rules.some(
    (r) =>
      (r.verbs.includes(a.verb) || r.verbs.includes('*')) &&
      (r.apiGroups.includes(a.group) || r.apiGroups.includes('*')) &&
      r.resources.some((x) => x === '*' || x === combined || (a.subresource !== '' && x === `*/${a.subresource}`)),
  );
}

describe('sluice install: tap RBAC', () => {
  it("lets the controller review tokens and access, gives users tap roles matching what the controller asks, and binds the dashboard's account to the admin role", async () => {
    const objects = await install();
    const controllerRules = find(objects, 'ClusterRole', 'sluice-controller-sluice')['rules'] as Rule[];
    assert.ok(rulesAllow(controllerRules, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews', subresource: '' }));
    assert.ok(rulesAllow(controllerRules, { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews', subresource: '' }));

    const tap = find(objects, 'ClusterRole', 'sluice-tap-sluice')['rules'] as Rule[];
    const admin = find(objects, 'ClusterRole', 'sluice-tap-admin-sluice')['rules'] as Rule[];
    for (const type of ['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'replicaset', 'pod']) {
      const asked = tapAttributes({ type, namespace: 'shop', name: 'x' });
      assert.ok(rulesAllow(tap, asked), `sluice-tap grants tapping a ${type}`);
      assert.ok(rulesAllow(admin, asked), `sluice-tap-admin grants tapping a ${type}`);
      assert.ok(!rulesAllow(tap, { ...asked, verb: 'get' }), 'only watch');
    }
    const wholeNamespace = tapAttributes({ type: 'namespace', namespace: '', name: 'shop' });
    assert.ok(!rulesAllow(tap, wholeNamespace), 'sluice-tap does not tap a whole namespace');
    assert.ok(rulesAllow(admin, wholeNamespace), 'sluice-tap-admin does');
    assert.ok(!rulesAllow(admin, { verb: 'watch', group: 'apps', resource: 'deployments', subresource: '' }), 'nothing outside tap.sluice.dev');

    const binding = find(objects, 'ClusterRoleBinding', 'sluice-dashboard-tap-sluice') as unknown as { roleRef: { name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> };
    assert.equal(binding.roleRef.name, 'sluice-tap-admin-sluice');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'sluice-controller', namespace: 'sluice' }]);
  });

  it('names the roles after the control-plane namespace, so that two installs do not collide', async () => {
    const objects = await install(['--control-plane-namespace', 'mesh2']);
    find(objects, 'ClusterRole', 'sluice-tap-mesh2');
    find(objects, 'ClusterRole', 'sluice-tap-admin-mesh2');
    find(objects, 'ClusterRoleBinding', 'sluice-dashboard-tap-mesh2');
  });
});

describe('sluice uninstall', () => {
  it('names every installed object (the --ha ones too), last created first, with no secret data', async () => {
    let out = '';
    const code = await runUninstall([], { env: {}, stdout: (t) => (out += t), stderr: () => {} });
    assert.equal(code, 0);
    const removed = parse(out);
    const installed = await install(['--ha']);
    assert.deepEqual(
      removed.map((o) => `${o.kind}/${o.metadata.name}`),
      installed.map((o) => `${o.kind}/${o.metadata.name}`).reverse(),
    );
    for (const object of removed) assert.deepEqual(Object.keys(object), ['apiVersion', 'kind', 'metadata']);
    assert.equal(removed.at(-1)?.kind, 'Namespace');
    assert.equal(removed[0]?.kind, 'MutatingWebhookConfiguration', 'injection stops first');
  });
});

// Injection of real-world shaped manifests (fixtures/workloads.yaml), checked field by field, plus the
// properties the CLI and webhook rely on: inject twice = once, uninject(inject(x)) = x, the patch is
// valid RFC 6902 (an independent applier gives the same object), and every result passes the
// Kubernetes schema offline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { inject, isInjected, uninject, type InjectOptions } from './inject.ts';
import { applyPatch } from './json-patch.ts';
import { fixtureObjects, testValues, TRUST_ANCHORS, validateKubernetesObject } from './testkit.ts';
import { mergeValues } from './values.ts';
import { parseQuantity, workersForCpuLimit } from './workers.ts';

type Obj = Record<string, any>;
const CLI: InjectOptions = { values: testValues(), createdBy: 'sluice/cli 0.1.0' };
const objects = fixtureObjects('workloads.yaml');
const byName = (name: string): Obj => {
  const found = objects.find((o) => (o.metadata as Obj).name === name);
  assert.ok(found, name);
  return found;
};

function injected(object: unknown, options: InjectOptions = CLI): Obj {
  const r = inject(object, options);
  assert.equal(r.outcome, 'injected', r.outcome === 'injected' ? '' : r.reason);
  return r.injected as Obj;
}

function envOf(container: Obj): Record<string, string> {
  return Object.fromEntries((container.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
}

const template = (o: Obj): Obj => (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.kind === 'Pod' ? o : o.spec.template);

describe('inject: the Deployment', () => {
  const before = byName('web');
  const after = injected(before);
  const pod = template(after);
  const [proxy, app] = pod.spec.containers as Obj[];

  it('puts the proxy first and leaves the app container as it was', () => {
    assert.equal(pod.spec.containers.length, 2);
    assert.equal(proxy?.name, 'sluice-proxy');
    assert.deepEqual(app, template(before).spec.containers[0]);
    assert.equal(proxy?.image, 'ghcr.io/sluice-mesh/proxy:0.1.0');
  });

  it('gives the proxy its ports, probes, security context and resources', () => {
    assert.deepEqual(proxy?.ports, [
      { name: 'sluice-proxy', containerPort: 4143, protocol: 'TCP' },
      { name: 'sluice-admin', containerPort: 4191, protocol: 'TCP' },
      { name: 'tap', containerPort: 4190, protocol: 'TCP' },
    ]);
    assert.deepEqual(proxy?.livenessProbe.httpGet, { path: '/live', port: 4191 });
    assert.deepEqual(proxy?.readinessProbe.httpGet, { path: '/ready', port: 4191 });
    assert.equal(proxy?.securityContext.runAsUser, 2102);
    assert.equal(proxy?.securityContext.readOnlyRootFilesystem, true);
    assert.equal(proxy?.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(proxy?.resources, { requests: { cpu: '100m', memory: '128Mi' } });
    assert.deepEqual(proxy?.lifecycle, {
      postStart: { exec: { command: ['sluice-await', '--timeout=2m', '--url=http://127.0.0.1:4191/ready'] } },
    });
  });

  it('sets the proxy environment: listeners, destination context from the downward API, identity', () => {
    const env = envOf(proxy as Obj);
    const fields = Object.fromEntries((proxy?.env as Obj[]).filter((e) => 'valueFrom' in e).map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]));
    assert.deepEqual(fields, { _pod_name: 'metadata.name', _pod_ns: 'metadata.namespace', _pod_nodeName: 'spec.nodeName', _pod_sa: 'spec.serviceAccountName' });
    // Kubernetes expands $(var) only for variables defined earlier in the list.
    const names = (proxy?.env as Obj[]).map((e) => e.name);
    assert.ok(names.indexOf('_pod_sa') < names.indexOf('SLUICE_PROXY_IDENTITY_LOCAL_NAME'));
    assert.deepEqual(env, {
      SLUICE_PROXY_LOG: 'warn,sluice=info',
      SLUICE_PROXY_LOG_FORMAT: 'plain',
      SLUICE_PROXY_WORKERS: '1',
      SLUICE_PROXY_INBOUND_LISTEN_ADDR: '0.0.0.0:4143',
      SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: '127.0.0.1:4140',
      SLUICE_PROXY_ADMIN_LISTEN_ADDR: '0.0.0.0:4191',
      SLUICE_PROXY_TAP_LISTEN_ADDR: '0.0.0.0:4190',
      SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: '25,587,3306,4444,5432,6379,9300,11211',
      SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'all-unauthenticated',
      SLUICE_PROXY_DESTINATION_SVC_ADDR: 'sluice-destination.sluice.svc.cluster.local:8086',
      SLUICE_PROXY_DESTINATION_SVC_NAME: 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local',
      SLUICE_PROXY_DESTINATION_CONTEXT: '{"ns":"$(_pod_ns)","nodeName":"$(_pod_nodeName)","pod":"$(_pod_name)"}',
      SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: 'svc.cluster.local.',
      SLUICE_PROXY_POLICY_SVC_ADDR: 'sluice-destination.sluice.svc.cluster.local:8086',
      SLUICE_PROXY_POLICY_WORKLOAD: '{"ns":"$(_pod_ns)","pod":"$(_pod_name)"}',
      SLUICE_PROXY_POD_NAME: '$(_pod_name)',
      SLUICE_PROXY_POD_NAMESPACE: '$(_pod_ns)',
      SLUICE_PROXY_WORKLOAD: 'deployment/web',
      SLUICE_PROXY_TAP_SVC_NAME: 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local',
      SLUICE_PROXY_IDENTITY_DIR: '/var/run/sluice/identity/end-entity',
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: TRUST_ANCHORS,
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: '/var/run/secrets/tokens/sluice-identity-token',
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: '$(_pod_sa).$(_pod_ns).serviceaccount.identity.sluice.cluster.local',
      SLUICE_PROXY_IDENTITY_SVC_ADDR: 'sluice-identity.sluice.svc.cluster.local:8080',
      SLUICE_PROXY_IDENTITY_SVC_NAME: 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local',
    });
    assert.deepEqual(proxy?.volumeMounts, [
      { name: 'sluice-identity-end-entity', mountPath: '/var/run/sluice/identity/end-entity' },
      { name: 'sluice-identity-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
    ]);
  });

  it('appends sluice-init after the existing init containers, root with NET_ADMIN and NET_RAW only', () => {
    const inits = pod.spec.initContainers as Obj[];
    assert.deepEqual(inits.map((c) => c.name), ['migrate', 'sluice-init']);
    const init = inits[1] as Obj;
    assert.deepEqual(init.command, ['sluice-init']);
    assert.deepEqual(init.args, [
      '--incoming-proxy-port', '4143', '--outgoing-proxy-port', '4140', '--proxy-uid', '2102',
      '--inbound-ports-to-ignore', '4190,4191,4567,4568', '--outbound-ports-to-ignore', '4567,4568',
    ]);
    assert.deepEqual(init.securityContext.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    assert.equal(init.securityContext.privileged, false);
    assert.equal(init.securityContext.runAsUser, 0);
  });

  it('adds the in-memory identity folder, the projected token and the xtables lock after the pod volumes', () => {
    assert.deepEqual(pod.spec.volumes, [
      { name: 'config', configMap: { name: 'web-config' } },
      { name: 'sluice-identity-end-entity', emptyDir: { medium: 'Memory' } },
      {
        name: 'sluice-identity-token',
        projected: { sources: [{ serviceAccountToken: { audience: 'identity.sluice.dev', expirationSeconds: 86400, path: 'sluice-identity-token' } }] },
      },
      { name: 'sluice-init-xtables-lock', emptyDir: {} },
    ]);
  });

  it('labels and annotates the pod template, not the Deployment', () => {
    assert.deepEqual(pod.metadata.labels, {
      app: 'web',
      'sluice.dev/control-plane-ns': 'sluice',
      'sluice.dev/proxy-deployment': 'web',
      'sluice.dev/workload-ns': 'emojivoto',
    });
    assert.deepEqual(pod.metadata.annotations, {
      'prometheus.io/scrape': 'true',
      'sluice.dev/created-by': 'sluice/cli 0.1.0',
      'sluice.dev/proxy-version': '0.1.0',
    });
    assert.deepEqual(after.metadata, before.metadata);
  });
});

describe('inject: every kind and the config.sluice.dev annotations', () => {
  it('injects each workload kind at its pod template', () => {
    for (const name of ['web', 'db', 'node-agent', 'legacy', 'older', 'report', 'nightly', 'debug']) {
      const out = injected(byName(name));
      assert.equal(template(out).spec.containers[0].name, 'sluice-proxy', name);
      assert.ok(isInjected(out), name);
    }
    assert.equal(envOf(template(injected(byName('older'))).spec.containers[0]).SLUICE_PROXY_WORKLOAD, 'replicationcontroller/older');
    assert.equal(envOf(template(injected(byName('report'))).spec.containers[0]).SLUICE_PROXY_WORKLOAD, 'job/report');
  });

  it('StatefulSet: opaque and skip ports, CPU limit → workers, memory limit, log level', () => {
    const pod = template(injected(byName('db')));
    const proxy = pod.spec.containers[0] as Obj;
    const env = envOf(proxy);
    assert.equal(env.SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION, '5432');
    assert.equal(env.SLUICE_PROXY_LOG, 'debug');
    assert.equal(env.SLUICE_PROXY_WORKERS, '2', 'ceil(1.5 cores)');
    assert.deepEqual(proxy.resources, { limits: { cpu: '1500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    const init = pod.spec.initContainers[0] as Obj;
    assert.deepEqual(init.args.slice(6), ['--inbound-ports-to-ignore', '4190,4191,4567,4568', '--outbound-ports-to-ignore', '4567-4568']);
  });

  it('DaemonSet with a 200m CPU limit runs the proxy on its main thread only', () => {
    assert.equal(envOf(template(injected(byName('node-agent'))).spec.containers[0]).SLUICE_PROXY_WORKERS, '0');
  });

  it('CronJob: proxy image and version overrides, proxy-await disabled', () => {
    const pod = template(injected(byName('nightly')));
    const proxy = pod.spec.containers[0] as Obj;
    assert.equal(proxy.image, 'registry.example.com/mesh/proxy:v9-custom');
    assert.equal(proxy.lifecycle, undefined);
    assert.equal(pod.metadata.annotations['sluice.dev/proxy-version'], 'v9-custom');
    assert.equal(envOf(proxy).SLUICE_PROXY_WORKLOAD, 'cronjob/nightly');
    assert.equal(pod.metadata.labels['sluice.dev/proxy-cronjob'], 'nightly');
    assert.equal(pod.spec.initContainers[0].image, 'ghcr.io/sluice-mesh/proxy:0.1.0', 'the init image has its own annotation');
  });

  it('a bare Pod has no workload and gets metadata only where missing', () => {
    const out = injected(byName('debug'));
    assert.equal(envOf(out.spec.containers[0]).SLUICE_PROXY_WORKLOAD, undefined);
    assert.deepEqual(out.metadata.labels, { 'sluice.dev/control-plane-ns': 'sluice', 'sluice.dev/workload-ns': 'default' });
  });

  it('leaves hostNetwork pods, opted-out workloads and other kinds unchanged, with the reason', () => {
    assert.deepEqual(inject(byName('node-exporter'), CLI), { outcome: 'skipped', reason: 'hostNetwork is enabled', warnings: [] });
    assert.deepEqual(inject(byName('opted-out'), CLI), { outcome: 'skipped', reason: 'sluice.dev/inject is disabled', warnings: [] });
    assert.deepEqual(inject(byName('web-svc'), CLI), { outcome: 'skipped', reason: 'kind Service (v1) has no pod to inject', warnings: [] });
    const notApps = { ...byName('web'), apiVersion: 'example.com/v1' };
    assert.equal((inject(notApps, CLI) as { reason: string }).reason, 'kind Deployment (example.com/v1) has no pod to inject');
    assert.equal((inject({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'x' }, spec: {} }, CLI) as { reason: string }).reason, 'no pod template at /spec/template/spec');
    assert.equal((inject('text', CLI) as { reason: string }).reason, 'not a Kubernetes object (no kind)');
  });

  it('a bad annotation value is an error naming it; an unknown one is a warning', () => {
    const bad = structuredClone(byName('web'));
    bad.spec.template.metadata.annotations['config.sluice.dev/proxy-cpu-limit'] = 'lots';
    const r = inject(bad, CLI);
    assert.equal(r.outcome, 'invalid');
    assert.match((r as { reason: string }).reason, /^config\.sluice\.dev\/proxy-cpu-limit: proxy\.resources\.cpu\.limit: "lots" is not a Kubernetes quantity/);
    const odd = structuredClone(byName('web'));
    odd.spec.template.metadata.annotations['sluice.dev/inject'] = 'yes';
    assert.deepEqual(inject(odd, CLI), { outcome: 'invalid', reason: 'sluice.dev/inject: "yes" is not enabled or disabled', warnings: [] });
    const unknown = structuredClone(byName('web'));
    unknown.spec.template.metadata.annotations['config.sluice.dev/proxy-colour'] = 'blue';
    const w = inject(unknown, CLI);
    assert.equal(w.outcome, 'injected');
    assert.deepEqual(w.warnings, ['config.sluice.dev/proxy-colour: unknown annotation, ignored']);
  });

  it('the authorization annotations set the default inbound policy and the ports that require identity; a bad policy is an error', () => {
    const strict = structuredClone(byName('web'));
    strict.spec.template.metadata.annotations['config.sluice.dev/default-inbound-policy'] = 'all-authenticated';
    strict.spec.template.metadata.annotations['config.sluice.dev/proxy-require-identity-inbound-ports'] = '8080,9000-9001';
    const env = envOf(template(injected(strict)).spec.containers[0] as Obj);
    assert.equal(env['SLUICE_PROXY_INBOUND_DEFAULT_POLICY'], 'all-authenticated');
    assert.equal(env['SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY'], '8080,9000-9001');
    const bad = structuredClone(byName('web'));
    bad.spec.template.metadata.annotations['config.sluice.dev/default-inbound-policy'] = 'allow-all';
    const r = inject(bad, CLI);
    assert.equal(r.outcome, 'invalid');
    assert.match((r as { reason: string }).reason, /^config\.sluice\.dev\/default-inbound-policy: proxy\.defaultInboundPolicy: "allow-all" is not one of all-unauthenticated/);
  });

  it('refuses to inject without trust anchors', () => {
    const r = inject(byName('web'), { ...CLI, values: mergeValues(testValues(), { identity: { trustAnchorsPEM: '' } }) });
    assert.equal(r.outcome, 'invalid');
  });
});

describe('inject: properties', () => {
  const injectable = objects.filter((o) => inject(o, CLI).outcome === 'injected');

  it('injecting twice equals injecting once, also over an older injection', () => {
    assert.equal(injectable.length, 8);
    for (const object of injectable) {
      const once = injected(object);
      assert.equal(JSON.stringify(injected(once)), JSON.stringify(once));
      const old = injected(object, { createdBy: 'sluice/cli 0.0.9', values: mergeValues(testValues(), { proxy: { image: { version: '0.0.9' }, logLevel: 'trace' } }) });
      assert.equal(JSON.stringify(injected(old)), JSON.stringify(once));
    }
  });

  it('uninject(inject(x)) is x, key order included', () => {
    for (const object of injectable) {
      const r = uninject(injected(object));
      assert.equal(r.outcome, 'uninjected');
      assert.equal(JSON.stringify((r as { uninjected: unknown }).uninjected), JSON.stringify(object));
    }
    assert.deepEqual(uninject(byName('web')), { outcome: 'skipped', reason: 'not injected' });
  });

  it('the operations are RFC 6902: fast-json-patch applies them to the same result', () => {
    for (const object of injectable) {
      const r = inject(injected(object), CLI); // re-injection: removes then adds
      assert.equal(r.outcome, 'injected');
      if (r.outcome !== 'injected') continue;
      const theirs = fastJsonPatch.applyPatch(structuredClone(injected(object)), structuredClone(r.ops) as never, true, false).newDocument;
      assert.deepEqual(theirs, r.injected);
      assert.deepEqual(applyPatch(injected(object), r.ops), r.injected);
    }
  });

  it('every injected object passes the Kubernetes schema (kubernetes-models, offline)', () => {
    for (const object of objects) validateKubernetesObject(object);
    for (const object of injectable) validateKubernetesObject(injected(object));
    // The validator does catch a broken sidecar (so the check above can fail).
    const broken = injected(byName('web'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = '4143';
    assert.throws(() => validateKubernetesObject(broken), /containerPort must be integer/);
  });
});

describe('inject: the webhook options', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-5d8f7-', labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } };
  const webhook: InjectOptions = { ...CLI, createdBy: 'sluice/proxy-injector 0.1.0', requireOptIn: true, skipInjected: true, namespace: 'emojivoto' };

  it('injects only what opted in, the pod annotation winning over the namespace', () => {
    assert.deepEqual(inject(pod, webhook), { outcome: 'skipped', reason: 'sluice.dev/inject is not enabled on the pod or its namespace', warnings: [] });
    assert.equal(inject(pod, { ...webhook, namespaceAnnotations: { 'sluice.dev/inject': 'enabled' } }).outcome, 'injected');
    const optedOut = { ...pod, metadata: { ...pod.metadata, annotations: { 'sluice.dev/inject': 'disabled' } } };
    assert.equal(inject(optedOut, { ...webhook, namespaceAnnotations: { 'sluice.dev/inject': 'enabled' } }).outcome, 'skipped');
  });

  it('takes the workload from the owner and the namespace from the request, and namespace config annotations', () => {
    const out = injected(pod, {
      ...webhook,
      owner: { kind: 'deployment', name: 'web' },
      namespaceAnnotations: { 'sluice.dev/inject': 'enabled', 'config.sluice.dev/proxy-log-level': 'debug' },
    });
    assert.equal(envOf(out.spec.containers[0]).SLUICE_PROXY_WORKLOAD, 'deployment/web');
    assert.equal(envOf(out.spec.containers[0]).SLUICE_PROXY_LOG, 'debug');
    assert.equal(out.metadata.labels['sluice.dev/proxy-deployment'], 'web');
    assert.equal(out.metadata.labels['sluice.dev/workload-ns'], 'emojivoto');
    assert.equal(out.metadata.annotations['sluice.dev/created-by'], 'sluice/proxy-injector 0.1.0');
    assert.deepEqual(inject(out, { ...webhook, namespaceAnnotations: { 'sluice.dev/inject': 'enabled' } }), { outcome: 'skipped', reason: 'already injected', warnings: [] });
  });
});

describe('worker count from the CPU limit', () => {
  it('no limit: 1; under a core: 0; N cores: ceil(N), at most 16', () => {
    const cases: [string, number][] = [['', 1], ['100m', 0], ['999m', 0], ['1', 1], ['1000m', 1], ['1500m', 2], ['2', 2], ['3.2', 4], ['64', 16], ['0', 1]];
    for (const [limit, workers] of cases) assert.equal(workersForCpuLimit(limit), workers, limit);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
    assert.equal(parseQuantity('lots'), undefined);
  });
});

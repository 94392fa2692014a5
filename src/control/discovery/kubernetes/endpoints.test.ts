// Pure mapping from Kubernetes objects to ServiceState (no server).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Job, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { endpointSlice, job, pod, replicaSet, service } from '../../../../test/fake-kube/objects.ts';
import type { Endpoint, ServiceState } from '../types.ts';
import { DEFAULT_WEIGHT, NOT_FOUND, serviceState, slicePort } from './endpoints.ts';
import type { EndpointContext } from './endpoints.ts';
import { topOwner } from './owners.ts';
import { identityOf, isMeshed, podInfo } from './pods.ts';

const NS = 'shop';
const name = { namespace: NS, service: 'web' };

function context(pods: readonly V1Pod[], rss: readonly V1ReplicaSet[] = [], jobs: readonly V1Job[] = []): EndpointContext {
  const find = <T extends { metadata?: { name?: string; namespace?: string } }>(list: readonly T[], ns: string, n: string): T | undefined =>
    list.find((o) => o.metadata?.namespace === ns && o.metadata?.name === n);
  return {
    controlPlaneNamespace: 'sluice',
    trustDomain: 'cluster.local',
    pod: (ns, n) => find(pods, ns, n),
    owner: (p) => topOwner(p, { replicaSet: (ns, n) => find(rss, ns, n), job: (ns, n) => find(jobs, ns, n) }),
  };
}

const svc = (ports: Parameters<typeof service>[0]['ports'], type?: string): V1Service =>
  service({ name: 'web', namespace: NS, ports, ...(type ? { type } : {}) }) as V1Service;
const slice = (o: Omit<Parameters<typeof endpointSlice>[0], 'service' | 'namespace'>): V1EndpointSlice =>
  endpointSlice({ ...o, namespace: NS, service: 'web' }) as unknown as V1EndpointSlice;

function endpoints(state: ServiceState): readonly Endpoint[] {
  assert.equal(state.kind, 'endpoints');
  return state.kind === 'endpoints' ? state.endpoints : [];
}
const addrs = (state: ServiceState): string[] => endpoints(state).map((e) => `${e.ip}:${e.port}`);

describe('serviceState', () => {
  test('no Service, or an ExternalName one: not-found', () => {
    assert.deepEqual(serviceState(name, 80, undefined, [], context([])), NOT_FOUND);
    assert.deepEqual(serviceState(name, 80, svc([{ port: 80 }], 'ExternalName'), [], context([])), NOT_FOUND);
  });

  test('a Service without slices: endpoints, empty, with the set labels', () => {
    assert.deepEqual(serviceState(name, 80, svc([{ port: 80, targetPort: 8080 }]), [], context([])), {
      kind: 'endpoints',
      labels: { namespace: NS, service: 'web' },
      endpoints: [],
    });
  });

  test('named target ports resolve through the slice ports, per slice', () => {
    const service = svc([
      { name: 'http', port: 80, targetPort: 'web' },
      { name: 'admin', port: 9000, targetPort: 9990 },
    ]);
    const slices = [
      slice({ name: 'web-a', ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9990 }], endpoints: [{ ip: '10.0.0.1' }] }),
      // Pods of another version listen on another port under the same name.
      slice({ name: 'web-b', ports: [{ name: 'http', port: 8081 }], endpoints: [{ ip: '10.0.0.2' }] }),
    ];
    assert.deepEqual(addrs(serviceState(name, 80, service, slices, context([]))), ['10.0.0.1:8080', '10.0.0.2:8081']);
    // web-b does not serve `admin`.
    assert.deepEqual(addrs(serviceState(name, 9000, service, slices, context([]))), ['10.0.0.1:9990']);
  });

  test('slice port rules: unnamed ports, unrestricted ports, ports the Service does not declare', () => {
    const unnamed = svc([{ port: 80, targetPort: 8080 }]);
    const s = slice({ name: 's', ports: [{ port: 8080 }], endpoints: [{ ip: '10.0.0.1' }] });
    assert.equal(slicePort(unnamed.spec?.ports?.[0], 80, s), 8080);
    const open = slice({ name: 'o', ports: [{ name: '' }], endpoints: [] });
    assert.equal(slicePort(unnamed.spec?.ports?.[0], 80, open), 8080);
    assert.equal(slicePort(undefined, 7000, s), 7000);
    assert.deepEqual(addrs(serviceState(name, 7000, unnamed, [s], context([]))), ['10.0.0.1:7000']);
  });

  test('not-ready endpoints are left out; a missing ready condition counts as ready', () => {
    const state = serviceState(
      name,
      80,
      svc([{ port: 80, targetPort: 8080 }]),
      [
        slice({
          name: 's',
          ports: [{ port: 8080 }],
          endpoints: [{ ip: '10.0.0.1', ready: true }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3' }],
        }),
      ],
      context([]),
    );
    assert.deepEqual(addrs(state), ['10.0.0.1:8080', '10.0.0.3:8080']);
  });

  test('several slices per Service merge; a duplicated address counts once; other Services and FQDN slices do not count', () => {
    const service = svc([{ name: 'http', port: 80, targetPort: 8080 }]);
    const ports = [{ name: 'http', port: 8080 }];
    const slices = [
      slice({ name: 'a', ports, endpoints: [{ ip: '10.0.0.3' }, { ip: '10.0.0.1' }] }),
      slice({ name: 'b', ports, endpoints: [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }] }),
      slice({ name: 'fqdn', ports, endpoints: [{ ip: 'example.com' }], addressType: 'FQDN' }),
      endpointSlice({ name: 'other', namespace: NS, service: 'other', ports, endpoints: [{ ip: '10.9.9.9' }] }) as unknown as V1EndpointSlice,
      endpointSlice({ name: 'elsewhere', namespace: 'other-ns', service: 'web', ports, endpoints: [{ ip: '10.8.8.8' }] }) as unknown as V1EndpointSlice,
    ];
    assert.deepEqual(addrs(serviceState(name, 80, service, slices, context([]))), ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
  });

  test('endpoint labels, identity and protocol hint from the pod behind each address', () => {
    const rs = replicaSet('web-5d8f', NS, { kind: 'Deployment', name: 'web' }) as V1ReplicaSet;
    const meshed = pod({
      name: 'web-5d8f-abc',
      namespace: NS,
      ip: '10.0.0.1',
      labels: { app: 'web', 'pod-template-hash': '5d8f' },
      owner: { kind: 'ReplicaSet', name: 'web-5d8f' },
      meshed: 'container',
      serviceAccount: 'web-sa',
    }) as V1Pod;
    const plain = pod({ name: 'batch-x', namespace: NS, ip: '10.0.0.2', owner: { kind: 'Job', name: 'nightly-1' } }) as V1Pod;
    const jobs = [job('nightly-1', NS, { kind: 'CronJob', name: 'nightly' }) as V1Job];
    const state = serviceState(
      name,
      80,
      svc([{ port: 80, targetPort: 8080 }]),
      [
        slice({
          name: 's',
          ports: [{ port: 8080 }],
          endpoints: [
            { ip: '10.0.0.1', pod: 'web-5d8f-abc', zone: 'zone-a' },
            { ip: '10.0.0.2', pod: 'batch-x' },
            { ip: '10.0.0.3', pod: 'not-in-cache-yet' },
            { ip: '10.0.0.4' },
          ],
        }),
      ],
      context([meshed, plain], [rs], jobs),
    );
    assert.deepEqual(endpoints(state), [
      {
        ip: '10.0.0.1',
        port: 8080,
        weight: DEFAULT_WEIGHT,
        labels: { namespace: NS, pod: 'web-5d8f-abc', deployment: 'web', serviceaccount: 'web-sa', pod_template_hash: '5d8f', zone: 'zone-a' },
        identity: 'web-sa.shop.serviceaccount.identity.sluice.cluster.local',
        protocolHint: 'h2',
      },
      {
        ip: '10.0.0.2',
        port: 8080,
        weight: DEFAULT_WEIGHT,
        labels: { namespace: NS, pod: 'batch-x', cronjob: 'nightly', serviceaccount: 'default' },
        identity: undefined,
        protocolHint: undefined,
      },
      { ip: '10.0.0.3', port: 8080, weight: DEFAULT_WEIGHT, labels: { namespace: NS, pod: 'not-in-cache-yet' }, identity: undefined, protocolHint: undefined },
      { ip: '10.0.0.4', port: 8080, weight: DEFAULT_WEIGHT, labels: { namespace: NS }, identity: undefined, protocolHint: undefined },
    ]);
  });
});

describe('owners and pods', () => {
  const rsOf = (owner?: { kind: string; name: string }) => [replicaSet('rs-1', NS, owner) as V1ReplicaSet];
  const lookup = (rss: readonly V1ReplicaSet[], jobs: readonly V1Job[] = []) => ({
    replicaSet: (ns: string, n: string) => rss.find((r) => r.metadata?.namespace === ns && r.metadata?.name === n),
    job: (ns: string, n: string) => jobs.find((j) => j.metadata?.namespace === ns && j.metadata?.name === n),
  });
  const owned = (kind: string, n: string): V1Pod => pod({ name: 'p', namespace: NS, owner: { kind, name: n } }) as V1Pod;

  test('top owner through ReplicaSets and Jobs, or the direct owner', () => {
    assert.deepEqual(topOwner(owned('ReplicaSet', 'rs-1'), lookup(rsOf({ kind: 'Deployment', name: 'web' }))), { kind: 'Deployment', name: 'web' });
    assert.deepEqual(topOwner(owned('ReplicaSet', 'rs-1'), lookup(rsOf())), { kind: 'ReplicaSet', name: 'rs-1' });
    assert.deepEqual(topOwner(owned('ReplicaSet', 'rs-1'), lookup([])), { kind: 'ReplicaSet', name: 'rs-1' }, 'not cached yet');
    assert.deepEqual(topOwner(owned('StatefulSet', 'db'), lookup([])), { kind: 'StatefulSet', name: 'db' });
    assert.deepEqual(topOwner(owned('DaemonSet', 'agent'), lookup([])), { kind: 'DaemonSet', name: 'agent' });
    assert.deepEqual(topOwner(owned('ReplicationController', 'old'), lookup([])), { kind: 'ReplicationController', name: 'old' });
    assert.deepEqual(topOwner(owned('Job', 'j'), lookup([], [job('j', NS) as V1Job])), { kind: 'Job', name: 'j' });
    assert.deepEqual(topOwner(owned('Job', 'j'), lookup([], [job('j', NS, { kind: 'CronJob', name: 'cj' }) as V1Job])), { kind: 'CronJob', name: 'cj' });
    assert.equal(topOwner(pod({ name: 'bare', namespace: NS }) as V1Pod, lookup([])), undefined);
  });

  test('meshed by container or annotation; identity; PodInfo', () => {
    const byContainer = pod({ name: 'a', namespace: NS, meshed: 'container', serviceAccount: 'sa' }) as V1Pod;
    const byAnnotation = pod({ name: 'b', namespace: NS, meshed: 'annotation', ip: '10.1.1.1' }) as V1Pod;
    const plain = pod({ name: 'c', namespace: NS, phase: 'Pending' }) as V1Pod;
    assert.equal(isMeshed(byContainer), true);
    assert.equal(isMeshed(byAnnotation), true);
    assert.equal(isMeshed(plain), false);
    assert.equal(identityOf(byContainer, { controlPlaneNamespace: 'cp', trustDomain: 'example.org' }), 'sa.shop.serviceaccount.identity.cp.example.org');
    assert.deepEqual(podInfo(byAnnotation, { kind: 'Deployment', name: 'd' }), {
      namespace: NS,
      name: 'b',
      ip: '10.1.1.1',
      owner: { kind: 'Deployment', name: 'd' },
      serviceAccount: 'default',
      meshed: true,
      phase: 'Running',
      labels: {},
      // For inbound policy: Servers may name a container port; no proxy container, so no policy env to read.
      containerPorts: { http: 8080 },
      inboundPolicy: undefined,
    });
    assert.equal(podInfo(plain, undefined).ip, undefined);
    assert.equal(podInfo(plain, undefined).phase, 'Pending');
  });
});

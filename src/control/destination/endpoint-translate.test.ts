import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, PodInfo, ServiceState } from '../discovery/types.ts';
import { decodeTcpAddress } from './addr.ts';
import { EndpointDiffer, podToEndpoint, toWeightedAddr, type UpdateMessage } from './endpoint-translate.ts';

const ep = (ip: string, port = 8080, extra: Partial<Endpoint> = {}): Endpoint => ({
  ip,
  port,
  weight: 10_000,
  labels: { pod: `pod-${ip}` },
  identity: undefined,
  protocolHint: undefined,
  ...extra,
});
const state = (...endpoints: Endpoint[]): ServiceState => ({
  kind: 'endpoints',
  labels: { namespace: 'ns', service: 'web' },
  endpoints,
});

/** A readable summary of updates: `+ip:port`, `-ip:port`, `none(exists)`. */
function summary(updates: UpdateMessage[] | 'not-found'): string[] {
  if (updates === 'not-found') return ['not-found'];
  return updates.flatMap((u) => {
    if ('add' in u) return u.add.addrs.map((a) => `+${fmt(a.addr)}`);
    if ('remove' in u) return u.remove.addrs.map((a) => `-${fmt(a)}`);
    return [`none(${u.no_endpoints.exists})`];
  });
}
const fmt = (addr: unknown): string => {
  const { ip, port } = decodeTcpAddress(addr);
  return `${ip}:${port}`;
};

describe('toWeightedAddr', () => {
  test('meshed endpoint: identity as dns_like_identity and server_name, h2 hint', () => {
    const message = toWeightedAddr(
      ep('10.0.0.1', 8080, { identity: 'web.ns.serviceaccount.identity.sluice.cluster.local', protocolHint: 'h2' }),
    );
    assert.deepEqual(message, {
      addr: { ip: { ipv4: 0x0a000001 }, port: 8080 },
      weight: 10_000,
      metric_labels: { pod: 'pod-10.0.0.1' },
      tls_identity: {
        dns_like_identity: { name: 'web.ns.serviceaccount.identity.sluice.cluster.local' },
        server_name: { name: 'web.ns.serviceaccount.identity.sluice.cluster.local' },
      },
      protocol_hint: { h2: {} },
    });
  });
  test('unmeshed endpoint: neither', () => {
    const message = toWeightedAddr(ep('10.0.0.1'));
    assert.equal(message.tls_identity, undefined);
    assert.equal(message.protocol_hint, undefined);
  });
});

describe('EndpointDiffer', () => {
  test('first state: the full set, with the set labels', () => {
    const differ = new EndpointDiffer();
    const updates = differ.next(state(ep('10.0.0.1'), ep('10.0.0.2')));
    assert.deepEqual(summary(updates), ['+10.0.0.1:8080', '+10.0.0.2:8080']);
    const [first] = updates === 'not-found' ? [] : updates;
    assert.ok(first !== undefined && 'add' in first);
    assert.deepEqual(first.add.metric_labels, { namespace: 'ns', service: 'web' });
  });

  test('first state not-found: NotFound; first state empty: no_endpoints{exists:true}', () => {
    assert.equal(new EndpointDiffer().next({ kind: 'not-found' }), 'not-found');
    assert.deepEqual(summary(new EndpointDiffer().next(state())), ['none(true)']);
  });

  test('diffs: adds, changed endpoints re-added, removes; nothing when nothing changed', () => {
    const differ = new EndpointDiffer();
    differ.next(state(ep('10.0.0.1'), ep('10.0.0.2')));
    assert.deepEqual(summary(differ.next(state(ep('10.0.0.1'), ep('10.0.0.2')))), []);
    assert.deepEqual(summary(differ.next(state(ep('10.0.0.2'), ep('10.0.0.3')))), ['+10.0.0.3:8080', '-10.0.0.1:8080']);
    assert.deepEqual(summary(differ.next(state(ep('10.0.0.2', 8080, { weight: 5 }), ep('10.0.0.3')))), ['+10.0.0.2:8080']);
    assert.equal(differ.size, 2);
  });

  test('emptied, deleted, recreated', () => {
    const differ = new EndpointDiffer();
    differ.next(state(ep('10.0.0.1')));
    assert.deepEqual(summary(differ.next(state())), ['none(true)']);
    assert.deepEqual(summary(differ.next(state())), []);
    assert.deepEqual(summary(differ.next({ kind: 'not-found' })), ['none(false)']);
    assert.deepEqual(summary(differ.next({ kind: 'not-found' })), []);
    assert.deepEqual(summary(differ.next(state(ep('10.0.0.1')))), ['+10.0.0.1:8080']);
    assert.deepEqual(summary(differ.next({ kind: 'not-found' })), ['none(false)']);
    assert.deepEqual(summary(differ.next(state())), ['none(true)']);
  });

  test('an endpoint whose address cannot be encoded is left out', () => {
    const differ = new EndpointDiffer();
    assert.deepEqual(summary(differ.next(state(ep('fe80::1%eth0'), ep('10.0.0.1')))), ['+10.0.0.1:8080']);
    assert.equal(differ.skipped, 1);
  });

  test('IPv6 endpoints are keyed canonically', () => {
    const differ = new EndpointDiffer();
    differ.next(state(ep('FD00:0::1', 8080, { labels: {} })));
    assert.deepEqual(summary(differ.next(state(ep('fd00::1', 8080, { labels: {} })))), []);
  });
});

test('podToEndpoint: Linkerd labels and identity', () => {
  const pod: PodInfo = {
    namespace: 'emojivoto',
    name: 'web-5d8f-abcde',
    ip: '10.0.0.1',
    owner: { kind: 'Deployment', name: 'web' },
    serviceAccount: 'web',
    meshed: true,
    phase: 'Running',
    labels: { 'pod-template-hash': '5d8f' },
  };
  assert.deepEqual(podToEndpoint(pod, '10.0.0.1', 8080, { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' }), {
    ip: '10.0.0.1',
    port: 8080,
    weight: 10_000,
    labels: {
      namespace: 'emojivoto',
      pod: 'web-5d8f-abcde',
      serviceaccount: 'web',
      deployment: 'web',
      pod_template_hash: '5d8f',
      control_plane_ns: 'sluice',
    },
    identity: 'web.emojivoto.serviceaccount.identity.sluice.cluster.local',
    protocolHint: 'h2',
  });
});

// The pure half of the tap relay: resources and label selectors to pods, tap addresses, the public
// match to the proxy's, Conduit's flat request, pod labels added to events, and address formatting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIp, formatTcpAddress } from '../../api/net-address.ts';
import type { PodInfo } from '../discovery/types.ts';
import { hydrate } from './relay.ts';
import {
  DEFAULT_MAX_RPS,
  TAP_PORT_LABEL,
  TapRequestError,
  ipMessage,
  parseLabelSelector,
  planByResource,
  planTapRequest,
  selectPods,
  tapAddress,
  tappable,
  translateMatch,
} from './resolve.ts';
import { pod } from '../../../test/support/controller.ts';

const pods: PodInfo[] = [
  pod('emojivoto', 'web-1', 'Deployment/web', { ip: '10.0.0.11', labels: { app: 'web', tier: 'front' } }),
  pod('emojivoto', 'web-2', 'Deployment/web', { ip: '10.0.0.12', labels: { app: 'web' } }),
  pod('emojivoto', 'vote-0', 'StatefulSet/vote', { ip: '10.0.0.20' }),
  pod('other', 'web-1', 'Deployment/web', { ip: '10.0.1.11' }),
  pod('emojivoto', 'bare', undefined, { ip: 'fd00::5', meshed: false }),
];

const names = (list: readonly PodInfo[]): string[] => list.map((p) => `${p.namespace}/${p.name}`);

describe('selecting pods', () => {
  it('by kubectl type names and aliases, namespace and name', () => {
    assert.deepEqual(names(selectPods(pods, { resource: { type: 'deploy', namespace: 'emojivoto', name: 'web' } }, 't').pods), ['emojivoto/web-1', 'emojivoto/web-2']);
    assert.deepEqual(names(selectPods(pods, { resource: { type: 'Deployments', name: 'web' } }, 't').pods), ['emojivoto/web-1', 'emojivoto/web-2', 'other/web-1']);
    assert.deepEqual(names(selectPods(pods, { resource: { type: 'sts', namespace: 'emojivoto', name: 'vote' } }, 't').pods), ['emojivoto/vote-0']);
    assert.deepEqual(names(selectPods(pods, { resource: { type: 'po', namespace: 'other', name: 'web-1' } }, 't').pods), ['other/web-1']);
    assert.deepEqual(names(selectPods(pods, { resource: { type: 'ns', name: 'other' } }, 't').pods), ['other/web-1']);
    assert.equal(selectPods(pods, { resource: { type: 'deploy', namespace: 'emojivoto' } }, 't').pods.length, 2, 'every deployment');
  });

  it('with a label selector', () => {
    const sel = (s: string): string[] => names(selectPods(pods, { resource: { type: 'ns', name: 'emojivoto' }, label_selector: s }, 't').pods);
    assert.deepEqual(sel('app=web'), ['emojivoto/web-1', 'emojivoto/web-2']);
    assert.deepEqual(sel('app==web,tier!=front'), ['emojivoto/web-2']);
    assert.deepEqual(sel('tier'), ['emojivoto/web-1']);
    assert.deepEqual(sel('!app'), ['emojivoto/vote-0', 'emojivoto/bare']);
    assert.deepEqual(sel('app in (web, api)'), ['emojivoto/web-1', 'emojivoto/web-2']);
    assert.deepEqual(sel('app notin (web)'), ['emojivoto/vote-0', 'emojivoto/bare']);
    assert.throws(() => parseLabelSelector('a b c'), TapRequestError);
  });

  it('refuses types that own no pods', () => {
    assert.throws(() => selectPods(pods, { resource: { type: 'svc', name: 'web' } }, 'the target'), /cannot tap the target of type "svc"/);
    assert.throws(() => selectPods(pods, { resource: {} }, 'the target'), /a resource type is required/);
  });

  it('taps only meshed running pods with an IP, at 4190 or their sluice.io/tap-port', () => {
    assert.deepEqual(names(tappable(pods)), ['emojivoto/web-1', 'emojivoto/web-2', 'emojivoto/vote-0', 'other/web-1']);
    assert.equal(tappable([pod('a', 'b', undefined, { phase: 'Pending' }), pod('a', 'c', undefined, { ip: undefined })]).length, 0);
    assert.equal(tapAddress(pods[0] as PodInfo, 4190), '10.0.0.11:4190');
    assert.equal(tapAddress(pod('a', 'b', undefined, { ip: '127.0.0.1', labels: { [TAP_PORT_LABEL]: '20190' } }), 4190), '127.0.0.1:20190');
    assert.equal(tapAddress(pod('a', 'b', undefined, { ip: 'fd00::1', labels: { [TAP_PORT_LABEL]: 'x' } }), 4190), '[fd00::1]:4190');
  });
});

describe('translating the match', () => {
  it('http filters as Linkerd does: authority exact, path prefix, method and scheme registered or not', () => {
    assert.deepEqual(translateMatch({ http: { method: 'get' } }, pods), { http: { method: { registered: 'GET' } } });
    assert.deepEqual(translateMatch({ http: { method: 'PURGE' } }, pods), { http: { method: { unregistered: 'PURGE' } } });
    assert.deepEqual(translateMatch({ http: { scheme: 'https' } }, pods), { http: { scheme: { registered: 'HTTPS' } } });
    assert.deepEqual(translateMatch({ http: { authority: 'web:80' } }, pods), { http: { authority: { exact: 'web:80' } } });
    assert.deepEqual(translateMatch({ http: { path: '/api' } }, pods), { http: { path: { prefix: '/api' } } });
    assert.equal(translateMatch(undefined, pods), undefined);
  });

  it('all, any and not nest; destinations become labels or the pods’ addresses', () => {
    const match = translateMatch(
      { all: { matches: [{ not: { http: { path: '/health' } } }, { destinations: { resource: { type: 'sts', namespace: 'emojivoto', name: 'vote' } } }] } },
      pods,
    );
    assert.deepEqual(match, {
      all: {
        matches: [
          { not: { http: { path: { prefix: '/health' } } } },
          {
            any: {
              matches: [
                { all: { matches: [{ destination_label: { key: 'statefulset', value: 'vote' } }, { destination_label: { key: 'namespace', value: 'emojivoto' } }] } },
                { any: { matches: [{ destination: { netmask: { ip: { ipv4: 0x0a000014 }, mask: 0 } } }] } },
              ],
            },
          },
        ],
      },
    });
    // Pods sharing an IP: only the labels can tell them apart.
    const shared = [pod('ns', 'a', 'Deployment/a', { ip: '127.0.0.1' }), pod('ns', 'b', 'Deployment/b', { ip: '127.0.0.1' })];
    assert.deepEqual(translateMatch({ destinations: { resource: { type: 'deploy', namespace: 'ns', name: 'a' } } }, shared), {
      any: {
        matches: [
          { all: { matches: [{ destination_label: { key: 'deployment', value: 'a' } }, { destination_label: { key: 'namespace', value: 'ns' } }] } },
          { any: { matches: [] } },
        ],
      },
    });
    assert.throws(() => translateMatch({}, pods), TapRequestError);
    assert.throws(() => translateMatch({ http: {} }, pods), TapRequestError);
  });

  it('plans a TapByResource request: maxRps 0 means 100, headers on request', () => {
    const plan = planByResource({ target: { resource: { type: 'deploy', namespace: 'emojivoto', name: 'web' } }, maxRps: 0 }, pods);
    assert.equal(plan.maxRps, DEFAULT_MAX_RPS);
    assert.equal(plan.headers, false);
    assert.equal(plan.pods.length, 2);
    assert.equal(planByResource({ target: { resource: { type: 'po' } }, maxRps: 2.5, extract: { http: { headers: {} } } }, pods).headers, true);
    assert.throws(() => planByResource({}, pods), /a target resource is required/);
  });

  it("plans Conduit's TapRequest: namespace/name, flat filters to proxy matches", () => {
    const plan = planTapRequest({ deployment: 'emojivoto/web', toIP: '10.0.0.20', toPort: 8080, fromIP: 'fd00::1', method: 'POST', path: '/x' }, pods);
    assert.equal(plan.pods.length, 2);
    assert.deepEqual(plan.match, {
      all: {
        matches: [
          { destination: { netmask: { ip: { ipv4: 0x0a000014 }, mask: 0 } } },
          { destination: { ports: { min: 8080 } } },
          { source: { netmask: { ip: { ipv6: { first: String(0xfd00n << 48n), last: '1' } }, mask: 0 } } },
          { http: { method: { registered: 'POST' } } },
          { http: { path: { prefix: '/x' } } },
        ],
      },
    });
    assert.equal(planTapRequest({ pod: 'web-1' }, pods).resource.namespace, 'default');
    assert.throws(() => planTapRequest({}, pods), /needs a pod or a deployment/);
    assert.throws(() => planTapRequest({ pod: 'a', toIP: 'nope' }, pods), /not an IP address/);
  });
});

describe('event labels and addresses', () => {
  it("names the tapped pod on its own side and the other side's pod by a unique IP; the proxy's labels win", () => {
    const byIp = new Map([['10.0.0.20', pods[2] as PodInfo]]);
    const event = hydrate(
      {
        proxy_direction: 'OUTBOUND',
        source: { ip: { ipv4: 0x0a00000b }, port: 5000 },
        destination: { ip: { ipv4: 0x0a000014 }, port: 8080 },
        destination_meta: { labels: { tls: 'disabled', pod: 'from-proxy' } },
      },
      pods[0] as PodInfo,
      byIp,
    );
    assert.deepEqual(event['source_meta'], { labels: { namespace: 'emojivoto', pod: 'web-1', serviceaccount: 'default', deployment: 'web' } });
    assert.deepEqual(event['destination_meta'], {
      labels: { namespace: 'emojivoto', pod: 'from-proxy', serviceaccount: 'default', statefulset: 'vote', tls: 'disabled' },
    });
    const inbound = hydrate({ proxy_direction: 'INBOUND', source: { ip: { ipv4: 1 }, port: 1 } }, pods[0] as PodInfo, byIp);
    assert.equal(inbound['destination_meta']['labels']['pod'], 'web-1');
    assert.equal(inbound['source_meta'], undefined, 'an unknown peer gets no labels');
  });

  it('formats IPv4 and IPv6 (RFC 5952) addresses from numbers or decimal strings', () => {
    assert.equal(formatIp({ ipv4: 0x7f000001 }), '127.0.0.1');
    assert.equal(formatIp({ ipv6: { first: '0', last: '1' } }), '::1');
    assert.equal(formatIp({ ipv6: { first: String(0x20010db8n << 32n), last: String((1n << 16n) | 7n) } }), '2001:db8::1:7');
    assert.equal(formatIp({ ipv6: { first: '18446744073709551615', last: '18446744073709551615' } }), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    assert.equal(formatIp({ ipv6: { first: String(1n << 48n), last: String(1n) } }), '1::1');
    assert.equal(formatTcpAddress({ ip: { ipv6: { first: 0, last: 1 } }, port: 80 }), '[::1]:80');
    assert.equal(formatTcpAddress({ ip: { ipv4: 0x0a000001 }, port: '8080' }), '10.0.0.1:8080');
    assert.equal(formatTcpAddress({ port: 80 }), ':80');
    for (const ip of ['fd00::1', '::ffff:1.2.3.4', '2001:db8:0:0:1:0:0:1']) {
      const message = ipMessage(ip) as { ipv6: { first: string; last: string } };
      assert.ok(message.ipv6 !== undefined, ip);
    }
    assert.equal(formatIp(ipMessage('2001:db8:0:0:1:0:0:1') as never), '2001:db8::1:0:0:1');
    assert.equal(formatIp(ipMessage('::ffff:1.2.3.4') as never), '::ffff:102:304');
  });
});

// Which Server a pod's port gets, what its ServerAuthorizations admit, and the defaults when no Server
// selects the port; resources that do not validate are refused naming the field. Pure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetworks } from '../../config/networks.ts';
import { decide, type AuthzClient } from '../../workers/proxy/inbound/authz-decide.ts';
import { portPolicy, type PolicyDefaults, type PolicyPod } from './port-policy.ts';
import { parseServer, parseServerAuthorization, type PolicyResources } from './resources.ts';

const DEFAULTS: PolicyDefaults = {
  defaultPolicy: 'all-unauthenticated',
  clusterNetworks: parseNetworks('t', '10.0.0.0/8'),
  identity: { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' },
};
const id = (sa: string, ns = 'shop'): string => `${sa}.${ns}.serviceaccount.identity.sluice.cluster.local`;
const POD: PolicyPod = {
  namespace: 'shop',
  name: 'web-0',
  labels: { app: 'web', tier: 'front' },
  containerPorts: { http: 8080, admin: 9000 },
  defaultPolicy: undefined,
  requireIdentityPorts: new Set(),
};

const server = (name: string, spec: object, labels: Record<string, string> = {}): unknown => ({ apiVersion: 'policy.sluice.dev/v1beta1', kind: 'Server', metadata: { name, namespace: 'shop', labels }, spec });
const authz = (name: string, spec: object): unknown => ({ kind: 'ServerAuthorization', metadata: { name, namespace: 'shop' }, spec });

const RESOURCES: PolicyResources = {
  servers: [
    parseServer(server('web-http', { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1' }, { tier: 'front' })),
    parseServer(server('web-admin', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, port: 9000 })),
    parseServer(server('other', { podSelector: { matchLabels: { app: 'db' } }, port: 8080 })),
  ],
  authorizations: [
    parseServerAuthorization(authz('web-from-clients', { server: { name: 'web-http' }, client: { meshTLS: { serviceAccounts: [{ name: 'client' }, { name: 'bot', namespace: 'ops' }] } } })),
    parseServerAuthorization(authz('front-probes', { server: { selector: { matchLabels: { tier: 'front' } } }, client: { unauthenticated: true, networks: [{ cidr: '192.168.0.0/16', except: ['192.168.9.0/24'] }] } })),
    parseServerAuthorization(authz('admin-ops', { server: { name: 'web-admin' }, client: { meshTLS: { identities: ['*.ops.serviceaccount.identity.sluice.cluster.local'] } } })),
  ],
};

const meshed = (identity: string, ip = '10.1.1.1'): AuthzClient => ({ ip, meshTls: true, clientId: identity });
const plain = (ip: string): AuthzClient => ({ ip, meshTls: false, clientId: undefined });

describe('portPolicy', () => {
  it('a Server selects the pod by label and its port by name; its ServerAuthorizations by name and by selector', () => {
    const policy = portPolicy(RESOURCES, POD, 8080, DEFAULTS);
    assert.deepEqual(policy.server, { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' });
    assert.equal(policy.protocol, 'http1');
    assert.equal(decide(policy, meshed(id('client')))?.ref.name, 'web-from-clients');
    assert.equal(decide(policy, meshed(id('bot', 'ops')))?.ref.name, 'web-from-clients', 'service account in another namespace');
    assert.equal(decide(policy, meshed(id('bot'))), undefined, 'same name, wrong namespace');
    assert.equal(decide(policy, plain('192.168.1.1'))?.ref.name, 'front-probes');
    assert.equal(decide(policy, plain('192.168.9.1')), undefined, 'excepted network');
    assert.equal(decide(policy, plain('10.1.1.1')), undefined);
  });

  it('identity suffixes and matchExpressions', () => {
    const policy = portPolicy(RESOURCES, POD, 9000, DEFAULTS);
    assert.equal(policy.server.name, 'web-admin');
    assert.equal(policy.protocol, 'detect');
    assert.equal(decide(policy, meshed(id('anyone', 'ops')))?.ref.name, 'admin-ops');
    assert.equal(decide(policy, meshed(id('client'))), undefined);
  });

  it('a port no Server selects gets the pod\'s own default, else the cluster default, with require-identity ports', () => {
    assert.deepEqual(portPolicy(RESOURCES, POD, 7000, DEFAULTS).server, { group: '', kind: 'default', name: 'all-unauthenticated' });
    assert.equal(portPolicy(RESOURCES, { ...POD, defaultPolicy: 'deny' }, 7000, DEFAULTS).server.name, 'deny');
    assert.equal(portPolicy(RESOURCES, { ...POD, requireIdentityPorts: new Set([7000]) }, 7000, DEFAULTS).server.name, 'all-authenticated');
    assert.equal(portPolicy(RESOURCES, { ...POD, labels: { app: 'db' } }, 8080, DEFAULTS).server.name, 'other');
    assert.equal(portPolicy(RESOURCES, { ...POD, namespace: 'elsewhere' }, 8080, { ...DEFAULTS, defaultPolicy: 'cluster-authenticated' }).server.name, 'cluster-authenticated');
  });

  it('a Server with no ServerAuthorization admits no one', () => {
    const alone: PolicyResources = { servers: [parseServer(server('lonely', { podSelector: {}, port: 7000 }))], authorizations: [] };
    assert.deepEqual(portPolicy(alone, POD, 7000, DEFAULTS).authorizations, []);
  });
});

describe('resource validation', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['Server without a port', () => parseServer(server('x', { podSelector: {} })), /: spec\.port: expected a port number/],
    ['Server with port 70000', () => parseServer(server('x', { podSelector: {}, port: 70000 })), /: spec\.port/],
    ['Server with an unknown protocol', () => parseServer(server('x', { podSelector: {}, port: 80, proxyProtocol: 'HTTP/3' })), /: spec\.proxyProtocol: expected one of unknown, HTTP\/1/],
    ['Server with a bad selector operator', () => parseServer(server('x', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Is' }] }, port: 80 })), /: spec\.podSelector\.matchExpressions\[0\]\.operator/],
    ['Server without a name', () => parseServer({ kind: 'Server', metadata: {}, spec: { podSelector: {}, port: 80 } }), /: metadata\.name/],
    ['ServerAuthorization naming no server', () => parseServerAuthorization(authz('x', { server: {}, client: { unauthenticated: true } })), /: spec\.server: expected name or selector/],
    ['ServerAuthorization admitting no kind of client', () => parseServerAuthorization(authz('x', { server: { name: 'a' }, client: {} })), /: spec\.client: expected unauthenticated: true or meshTLS/],
    ['ServerAuthorization with a bad CIDR', () => parseServerAuthorization(authz('x', { server: { name: 'a' }, client: { unauthenticated: true, networks: [{ cidr: '10.0.0.0/33' }] } })), /: spec\.client\.networks\[0\]\.cidr: "10\.0\.0\.0\/33" is not a CIDR/],
    ['ServerAuthorization with a bad except', () => parseServerAuthorization(authz('x', { server: { name: 'a' }, client: { unauthenticated: true, networks: [{ cidr: '10.0.0.0/8', except: ['nope'] }] } })), /: spec\.client\.networks\[0\]\.except\[0\]/],
  ];
  for (const [what, parse, error] of cases) it(`refuses a ${what}`, () => assert.throws(parse, error));
});

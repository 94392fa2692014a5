// The decision table: which client each kind of authorization lets in, and the default policies as
// Linkerd defines them (a port requiring identity turns the unauthenticated ones into authenticated ones).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPortPolicy, type DefaultPolicy, type PolicyAuthn, type PolicyNetwork, type PortPolicy } from '../../../api/inbound-policy.ts';
import { parseNetworks } from '../../../config/networks.ts';
import { decide, type AuthzClient } from './authz-decide.ts';

const CLUSTER = parseNetworks('test', '10.0.0.0/8,fd00::/8');
const MESHED: AuthzClient = { ip: '10.1.2.3', meshTls: true, clientId: 'web.default.serviceaccount.identity.sluice.cluster.local' };
const MESHED_NO_CERT: AuthzClient = { ip: '10.1.2.3', meshTls: true, clientId: undefined };
const PLAIN_IN_CLUSTER: AuthzClient = { ip: '10.9.9.9', meshTls: false, clientId: undefined };
const PLAIN_OUTSIDE: AuthzClient = { ip: '203.0.113.7', meshTls: false, clientId: undefined };
const MESHED_OUTSIDE: AuthzClient = { ip: '::ffff:203.0.113.7', meshTls: true, clientId: MESHED.clientId };
const PLAIN_V6_CLUSTER: AuthzClient = { ip: 'fd00::1', meshTls: false, clientId: undefined };

const allowed = (policy: PortPolicy, client: AuthzClient): boolean => decide(policy, client) !== undefined;

describe('default policies', () => {
  const table: Array<[DefaultPolicy, boolean, [AuthzClient, boolean][]]> = [
    ['all-unauthenticated', false, [[MESHED, true], [PLAIN_IN_CLUSTER, true], [PLAIN_OUTSIDE, true], [PLAIN_V6_CLUSTER, true]]],
    ['all-authenticated', false, [[MESHED, true], [MESHED_OUTSIDE, true], [MESHED_NO_CERT, false], [PLAIN_IN_CLUSTER, false]]],
    ['cluster-unauthenticated', false, [[MESHED, true], [PLAIN_IN_CLUSTER, true], [PLAIN_V6_CLUSTER, true], [PLAIN_OUTSIDE, false], [MESHED_OUTSIDE, false]]],
    ['cluster-authenticated', false, [[MESHED, true], [MESHED_OUTSIDE, false], [PLAIN_IN_CLUSTER, false]]],
    ['deny', false, [[MESHED, false], [PLAIN_IN_CLUSTER, false]]],
    // Require-identity ports.
    ['all-unauthenticated', true, [[MESHED, true], [MESHED_OUTSIDE, true], [PLAIN_IN_CLUSTER, false], [PLAIN_OUTSIDE, false]]],
    ['cluster-unauthenticated', true, [[MESHED, true], [MESHED_OUTSIDE, false], [PLAIN_IN_CLUSTER, false]]],
    ['deny', true, [[MESHED, false]]],
  ];
  for (const [name, requireIdentity, cases] of table) {
    for (const [client, expected] of cases) {
      it(`${name}${requireIdentity ? ' (identity required)' : ''}: ${client.meshTls ? `mesh TLS ${client.clientId === undefined ? 'without certificate' : 'with identity'}` : 'plaintext'} from ${client.ip} → ${expected ? 'allowed' : 'refused'}`, () => {
        assert.equal(allowed(defaultPortPolicy(name, requireIdentity, CLUSTER), client), expected);
      });
    }
  }

  it('names the server and the authorization after the effective default (metrics labels)', () => {
    const policy = defaultPortPolicy('all-unauthenticated', true, CLUSTER);
    assert.deepEqual(policy.server, { group: '', kind: 'default', name: 'all-authenticated' });
    assert.deepEqual(decide(policy, MESHED)?.ref, { group: '', kind: 'default', name: 'all-authenticated' });
    assert.deepEqual(defaultPortPolicy('deny', false, CLUSTER).authorizations, []);
  });
});

describe('authorizations from Server / ServerAuthorization', () => {
  const everywhere: PolicyNetwork[] = parseNetworks('test', '0.0.0.0/0,::/0').map((net) => ({ net, except: [] }));
  const policy = (authn: PolicyAuthn, networks: readonly PolicyNetwork[] = everywhere): PortPolicy => ({
    server: { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' },
    protocol: 'http1',
    authorizations: [{ ref: { group: 'policy.sluice.dev', kind: 'serverauthorization', name: 'web-clients' }, networks, authn }],
  });

  it('names identities exactly', () => {
    const p = policy({ kind: 'mesh-tls', identities: [MESHED.clientId as string], suffixes: [] });
    assert.equal(allowed(p, MESHED), true);
    assert.equal(allowed(p, { ...MESHED, clientId: 'other.default.serviceaccount.identity.sluice.cluster.local' }), false);
    assert.equal(allowed(p, PLAIN_IN_CLUSTER), false);
  });

  it('matches identity suffixes on whole labels (a namespace\'s service accounts)', () => {
    const p = policy({ kind: 'mesh-tls', identities: [], suffixes: [['default', 'serviceaccount', 'identity', 'sluice', 'cluster', 'local']] });
    assert.equal(allowed(p, MESHED), true);
    assert.equal(allowed(p, { ...MESHED, clientId: 'web.notdefault.serviceaccount.identity.sluice.cluster.local' }), false);
    assert.equal(allowed(p, { ...MESHED, clientId: 'web.xdefault.serviceaccount.identity.sluice.cluster.local' }), false);
  });

  it('mesh TLS without naming anyone admits any mesh TLS client, even one without a certificate, and no plaintext', () => {
    const p = policy({ kind: 'mesh-tls-any' });
    assert.equal(allowed(p, MESHED_NO_CERT), true);
    assert.equal(allowed(p, PLAIN_IN_CLUSTER), false);
  });

  it('applies networks and their exceptions', () => {
    const networks = [{ net: parseNetworks('t', '10.0.0.0/8')[0]!, except: parseNetworks('t', '10.9.0.0/16') }];
    const p = policy({ kind: 'unauthenticated' }, networks);
    assert.equal(allowed(p, MESHED), true);
    assert.equal(allowed(p, PLAIN_IN_CLUSTER), false, '10.9.9.9 is excepted');
    assert.equal(allowed(p, PLAIN_OUTSIDE), false);
    assert.equal(allowed(p, { ...PLAIN_OUTSIDE, ip: 'not an address' }), false);
  });

  it('takes the first authorization that matches, for the metrics to name it', () => {
    const p: PortPolicy = {
      ...policy({ kind: 'unauthenticated' }),
      authorizations: [
        { ref: { group: 'g', kind: 'serverauthorization', name: 'meshed' }, networks: everywhere, authn: { kind: 'mesh-tls', identities: [], suffixes: [[]] } },
        { ref: { group: 'g', kind: 'serverauthorization', name: 'anyone' }, networks: everywhere, authn: { kind: 'unauthenticated' } },
      ],
    };
    assert.equal(decide(p, MESHED)?.ref.name, 'meshed');
    assert.equal(decide(p, PLAIN_OUTSIDE)?.ref.name, 'anyone');
  });
});

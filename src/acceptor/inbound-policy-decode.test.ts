// A Server message as a Go or grpc-js controller would send it (encoded by protobufjs from
// proto/inbound.proto), read by the proxy's own codec and turned into the policy the workers judge with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../workers/proxy/inbound/authz-decide.ts';
import { InboundWatchPort } from './grpc/control-methods.ts';
import { Server } from './grpc/inbound-schema.ts';
import { oracleEncode } from './grpc/oracle-testkit.ts';
import { decodeServer } from './inbound-policy-decode.ts';

const ipv4 = (text: string): number => text.split('.').reduce((n, part) => n * 256 + Number(part), 0);

describe('inbound policy from the wire', () => {
  const bytes = oracleEncode(Server, {
    protocol: { http1: {} },
    labels: { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' },
    authorizations: [
      {
        networks: [{ net: { ip: { ipv4: ipv4('10.0.0.0') }, prefix_len: 8 }, except: [{ ip: { ipv4: ipv4('10.9.0.0') }, prefix_len: 16 }] }],
        authentication: { meshTLS: { identities: { identities: [{ name: 'web.default.serviceaccount.identity.sluice.cluster.local' }], suffixes: [{ parts: ['admin', 'serviceaccount'] }] } } },
        labels: { group: 'policy.sluice.dev', kind: 'serverauthorization', name: 'web-clients' },
      },
      {
        networks: [{ net: { ip: { ipv6: { first: (0xfd00n << 48n).toString(), last: '0' } }, prefix_len: 8 } }],
        authentication: { unauthenticated: {} },
        metadata: { resource: { group: 'policy.sluice.dev', kind: 'serverauthorization', name: 'ula-probes' } },
      },
    ],
  });
  const policy = decodeServer(InboundWatchPort.decode(bytes));

  it('names the server and each authorization', () => {
    assert.deepEqual(policy.server, { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' });
    assert.equal(policy.protocol, 'http1');
    assert.deepEqual(policy.authorizations.map((a) => a.ref.name), ['web-clients', 'ula-probes']);
  });

  it('judges clients as the controller meant', () => {
    const web = 'web.default.serviceaccount.identity.sluice.cluster.local';
    assert.equal(decide(policy, { ip: '10.1.1.1', meshTls: true, clientId: web })?.ref.name, 'web-clients');
    assert.equal(decide(policy, { ip: '10.1.1.1', meshTls: true, clientId: 'x.admin.serviceaccount' })?.ref.name, 'web-clients');
    assert.equal(decide(policy, { ip: '10.9.1.1', meshTls: true, clientId: web }), undefined, 'excepted network');
    assert.equal(decide(policy, { ip: '10.1.1.1', meshTls: false, clientId: undefined }), undefined);
    assert.equal(decide(policy, { ip: 'fd00::5', meshTls: false, clientId: undefined })?.ref.name, 'ula-probes');
  });

  it('an authorization with a malformed network admits no one; the others still apply', () => {
    const broken = decodeServer({ authorizations: [{ networks: [{ net: { ip: { ipv4: 1 }, prefix_len: 40 } }], authentication: { unauthenticated: {} } }] });
    assert.equal(decide(broken, { ip: '0.0.0.1', meshTls: false, clientId: undefined }), undefined);
    assert.equal(broken.protocol, 'detect');
  });
});

// Reading a mesh peer's identity from node:tls's subjectaltname text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPeerIdentity, dnsNames, identityOf } from './peer-identity.ts';

const WEB = 'web.default.serviceaccount.identity.sluice.cluster.local';

describe('peer identity', () => {
  it('reads the DNS names of a subjectAltName, lower case, ignoring other kinds and quoted entries', () => {
    assert.deepEqual(dnsNames(`DNS:${WEB.toUpperCase()}`), [WEB]);
    assert.deepEqual(dnsNames('IP Address:10.0.0.1, DNS:a.example, URI:spiffe://x, DNS:"b,c.example", DNS:d.example'), ['a.example', 'd.example']);
    assert.deepEqual(dnsNames(undefined), []);
    assert.deepEqual(dnsNames(''), []);
  });

  it('takes a certificate with exactly one DNS SAN as that identity, and no other', () => {
    assert.equal(identityOf(`DNS:${WEB}`), WEB);
    assert.equal(identityOf(`DNS:${WEB}, DNS:other.example`), undefined);
    assert.equal(identityOf('IP Address:10.0.0.1'), undefined);
    assert.equal(identityOf(undefined), undefined);
  });

  it('accepts exactly the expected identity; a wildcard, a suffix or another name is refused with ERR_TLS_CERT_ALTNAME_INVALID', () => {
    assert.equal(checkPeerIdentity(WEB, `DNS:${WEB}`), undefined);
    assert.equal(checkPeerIdentity(WEB.toUpperCase(), `DNS:${WEB}`), undefined);
    for (const san of ['DNS:*.default.serviceaccount.identity.sluice.cluster.local', 'DNS:identity.sluice.cluster.local', 'DNS:billing.default.serviceaccount.identity.sluice.cluster.local', '', undefined]) {
      const error = checkPeerIdentity(WEB, san) as Error & { code?: string };
      assert.equal(error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', String(san));
      assert.match(error.message, /not the expected identity web\.default/);
    }
  });
});

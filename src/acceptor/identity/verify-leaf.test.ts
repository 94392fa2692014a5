// verifyLeaf: what the proxy accepts from the Identity service before it serves with it. Certificates
// are made by the controller's own PKI, so each refusal below is one a real issuer could produce.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { webcrypto } from 'node:crypto';
import { certificatesToPem, createIssuer, createTrustAnchor, issueLeaf, type CaCredential } from '../../control/identity/pki.ts';
import * as x509 from '../../api/x509.ts';
import { createLocalKey, type LocalKey } from './csr.ts';
import { LeafRejectedError, verifyLeaf } from './verify-leaf.ts';
import { refreshDelayMs } from './refresh.ts';

const WEB = 'web.shop.serviceaccount.identity.sluice.cluster.local';
const der = (c: { rawData: ArrayBuffer }): Uint8Array => new Uint8Array(c.rawData);

describe('verifyLeaf', () => {
  let anchor: CaCredential;
  let issuer: CaCredential;
  let key: LocalKey;
  let publicKey: x509.PublicKey;

  before(async () => {
    anchor = await createTrustAnchor();
    issuer = await createIssuer(anchor);
    key = await createLocalKey(WEB);
    publicKey = new x509.Pkcs10CertificateRequest(key.csrDer).publicKey;
  });

  const check = (leaf: x509.X509Certificate, over: { intermediates?: CaCredential[]; anchors?: CaCredential[]; nowMs?: number } = {}) =>
    verifyLeaf({
      leafDer: der(leaf),
      intermediatesDer: (over.intermediates ?? [issuer]).map((c) => der(c.certificate)),
      anchorsPem: certificatesToPem((over.anchors ?? [anchor]).map((a) => a.certificate)),
      identity: WEB,
      keyPem: key.keyPem,
      ...(over.nowMs === undefined ? {} : { nowMs: over.nowMs }),
    });

  test('the CSR names exactly the identity, and the key is P-256', () => {
    const csr = new x509.Pkcs10CertificateRequest(key.csrDer);
    const names = [...csr.extensions].flatMap((e) => (e instanceof x509.SubjectAlternativeNameExtension ? e.names.items : []));
    assert.deepEqual(names.map((n) => [n.type, n.value]), [['dns', WEB]]);
    assert.deepEqual(csr.subjectName.getField('CN'), [WEB]);
    assert.equal((csr.publicKey.algorithm as { namedCurve?: string }).namedCurve, 'P-256');
    assert.match(key.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  test('accepts a leaf for our key and name that chains to the anchors; returns chain and expiry', async () => {
    const leaf = await issueLeaf(issuer, { identity: WEB, publicKey, lifetimeMs: 60_000 });
    const verified = check(leaf);
    assert.equal(verified.notAfterMs, leaf.notAfter.getTime());
    assert.equal((verified.certChainPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
  });

  test('refuses a leaf for another name', async () => {
    const leaf = await issueLeaf(issuer, { identity: 'db.shop.serviceaccount.identity.sluice.cluster.local', publicKey });
    assert.throws(() => check(leaf), (e: Error) => e instanceof LeafRejectedError && /names DNS:db\.shop.*expected only DNS:web\.shop/.test(e.message));
  });

  test('refuses a leaf for another key', async () => {
    const other = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const leaf = await issueLeaf(issuer, { identity: WEB, publicKey: other.publicKey });
    assert.throws(() => check(leaf), /not for the key this proxy generated/);
  });

  test('refuses a leaf from an issuer under other anchors, or without its intermediate', async () => {
    const foreign = await createIssuer(await createTrustAnchor({ commonName: 'root.elsewhere' }));
    const leaf = await issueLeaf(foreign, { identity: WEB, publicKey });
    assert.throws(() => check(leaf, { intermediates: [foreign] }), /does not chain to the trust anchors/);
    const ours = await issueLeaf(issuer, { identity: WEB, publicKey });
    assert.throws(() => check(ours, { intermediates: [] }), /does not chain/);
  });

  test('refuses a leaf outside its validity window', async () => {
    const leaf = await issueLeaf(issuer, { identity: WEB, publicKey, lifetimeMs: 60_000 });
    assert.throws(() => check(leaf, { nowMs: Date.now() + 120_000 }), /not valid now/);
  });

  test('refuses bytes that are no certificate', () => {
    assert.throws(
      () => verifyLeaf({ leafDer: Buffer.from('nope'), intermediatesDer: [], anchorsPem: '', identity: WEB, keyPem: key.keyPem }),
      /leaf certificate does not parse/,
    );
  });
});

describe('refreshDelayMs', () => {
  test('70 % of what is left, bounded to 10 s … 24 h', () => {
    const now = 1_000_000;
    assert.equal(refreshDelayMs(now + 24 * 3600_000, now), Math.round(0.7 * 24 * 3600_000));
    assert.equal(refreshDelayMs(now + 20_000, now), 14_000);
    assert.equal(refreshDelayMs(now + 5_000, now), 10_000);
    assert.equal(refreshDelayMs(now - 5_000, now), 10_000);
    assert.equal(refreshDelayMs(now + 365 * 24 * 3600_000, now), 24 * 3600_000);
  });
});

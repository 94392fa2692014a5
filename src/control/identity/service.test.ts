// Certify end to end over real gRPC: a grpc-js client sends real CSRs with local-mesh tokens to the
// service on a real port; the answers are checked with OpenSSL (node:crypto's X509Certificate), and
// every refusal carries Linkerd's status code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as OpenSslCertificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { LoadedIssuer } from './issuer.ts';
import { createLocalToken, generateTokenKey, LocalTokenValidator } from './local-token.ts';
import { generateKeyPair, SIGNING_ALGORITHM } from './pki.ts';
import { IdentityService } from './service.ts';
import { InlineSigner } from './signer.ts';
import { csrDer, identityOf, IdentityClient, quietLog, serveIdentity, testPki, type TestPki } from './testkit.ts';
import * as x509 from './x509.ts';

const HOUR = 3600_000;
const key = generateTokenKey();
const web = { serviceAccount: 'web', namespace: 'shop' };
const WEB = identityOf('web', 'shop');
const webToken = createLocalToken(key, web);

let pki: TestPki;
let issuer: LoadedIssuer | undefined;
let server: { address: string; close: () => void };
let client: IdentityClient;

before(async () => {
  pki = await testPki();
  issuer = { credential: pki.issuer, anchors: [pki.anchor.certificate], origin: 'test' };
  const service = new IdentityService({
    issuer: () => issuer,
    validator: new LocalTokenValidator(key),
    signer: new InlineSigner(),
    domain: { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' },
    leafLifetimeMs: 24 * HOUR,
    log: quietLog(),
  });
  server = await serveIdentity(service.implementation());
  client = new IdentityClient(server.address);
});

after(() => {
  client.close();
  server.close();
});

/** Asserts that Certify fails with `code` and a message matching `message`. */
async function refused(request: Parameters<IdentityClient['certify']>[0], code: grpc.status, message: RegExp): Promise<void> {
  await assert.rejects(client.certify(request), (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `expected ${grpc.status[code]}, got ${grpc.status[error.code]}: ${error.details}`);
    assert.match(error.details, message);
    return true;
  });
}

/** A CSR built by hand with the given subject and SANs (for requests a proxy would never send). */
async function customCsr(name: string, sans: Array<{ type: 'dns' | 'ip' | 'email' | 'url'; value: string }>): Promise<Buffer> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys: await generateKeyPair(),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  return Buffer.from(csr.rawData);
}

describe('Certify', { timeout: 60_000 }, () => {
  test('signs a 24 h leaf for the proven identity, with the issuer as the chain', async () => {
    const before = Date.now();
    const response = await client.certify({ identity: WEB, token: webToken, certificate_signing_request: await csrDer(WEB) });
    const leaf = new OpenSslCertificate(response.leaf_certificate);
    assert.equal(leaf.subjectAltName, `DNS:${WEB}`);
    assert.equal(leaf.ca, false);
    assert.equal(response.intermediate_certificates.length, 1);
    const intermediate = new OpenSslCertificate(response.intermediate_certificates[0]!);
    assert.equal(intermediate.fingerprint256, new OpenSslCertificate(pki.issuer.certificate.toString('pem')).fingerprint256);
    const anchor = new OpenSslCertificate(pki.anchor.certificate.toString('pem'));
    assert.ok(leaf.verify(intermediate.publicKey) && leaf.checkIssued(intermediate), 'leaf signed by the issuer');
    assert.ok(intermediate.verify(anchor.publicKey), 'issuer signed by the anchor');
    const validUntil = Number(response.valid_until.seconds) * 1000 + Math.round(response.valid_until.nanos / 1e6);
    assert.equal(validUntil, new Date(leaf.validTo).getTime());
    assert.ok(Math.abs(validUntil - before - 24 * HOUR) < 5000, 'valid 24 h');
    assert.ok(new Date(leaf.validFrom).getTime() < before - 10_000, 'not-before in the past for clock skew');
  });

  test('accepts a CSR without a CN (the identity in the SAN alone)', async () => {
    const response = await client.certify({ identity: WEB, token: webToken, certificate_signing_request: await customCsr('', [{ type: 'dns', value: WEB }]) });
    assert.equal(new OpenSslCertificate(response.leaf_certificate).subjectAltName, `DNS:${WEB}`);
  });

  test('INVALID_ARGUMENT: missing fields, a CSR that does not parse, a bad signature, a non-P-256 key, a malformed identity', async () => {
    const csr = await csrDer(WEB);
    await refused({ token: webToken, certificate_signing_request: csr }, grpc.status.INVALID_ARGUMENT, /^missing identity$/);
    await refused({ identity: WEB, certificate_signing_request: csr }, grpc.status.INVALID_ARGUMENT, /^missing token$/);
    await refused({ identity: WEB, token: webToken }, grpc.status.INVALID_ARGUMENT, /^missing certificate signing request$/);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: Buffer.from('not der') }, grpc.status.INVALID_ARGUMENT, /does not parse/);
    const tampered = Buffer.from(csr);
    tampered[tampered.length - 4]! ^= 0x01;
    await refused({ identity: WEB, token: webToken, certificate_signing_request: tampered }, grpc.status.INVALID_ARGUMENT, /signature does not verify/);
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const csr384 = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${WEB}`,
      keys: p384,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: WEB }])],
    });
    await refused({ identity: WEB, token: webToken, certificate_signing_request: Buffer.from(csr384.rawData) }, grpc.status.INVALID_ARGUMENT, /must be ECDSA P-256 \(got ECDSA P-384\)/);
    const foreign = 'web.shop.serviceaccount.identity.linkerd.cluster.local';
    await refused({ identity: foreign, token: webToken, certificate_signing_request: await csrDer(foreign) }, grpc.status.INVALID_ARGUMENT, /is not of the form <serviceaccount>.<namespace>.serviceaccount.identity.sluice.cluster.local/);
    await refused({ identity: WEB, token: 'garbage', certificate_signing_request: csr }, grpc.status.INVALID_ARGUMENT, /not a Sluice local-mesh token/);
  });

  test('FAILED_PRECONDITION: a CSR that names something else', async () => {
    const other = identityOf('db', 'shop');
    await refused({ identity: WEB, token: webToken, certificate_signing_request: await csrDer(other) }, grpc.status.FAILED_PRECONDITION, /CSR name does not match requested identity: csr=db\.shop\..*; req=web\.shop\./);
    const two = await customCsr(`CN=${WEB}`, [{ type: 'dns', value: WEB }, { type: 'dns', value: other }]);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: two }, grpc.status.FAILED_PRECONDITION, /exactly one DNSName \(has 2\)/);
    const none = await customCsr(`CN=${WEB}`, []);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: none }, grpc.status.FAILED_PRECONDITION, /exactly one DNSName \(has 0\)/);
    const withIp = await customCsr(`CN=${WEB}`, [{ type: 'dns', value: WEB }, { type: 'ip', value: '10.0.0.1' }]);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: withIp }, grpc.status.FAILED_PRECONDITION, /no addresses other than its DNSName \(has ip:10\.0\.0\.1\)/);
    const withUri = await customCsr(`CN=${WEB}`, [{ type: 'dns', value: WEB }, { type: 'url', value: 'spiffe://cluster.local/ns/shop/sa/web' }]);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: withUri }, grpc.status.FAILED_PRECONDITION, /has url:spiffe/);
    const badCn = await customCsr('CN=admin', [{ type: 'dns', value: WEB }]);
    await refused({ identity: WEB, token: webToken, certificate_signing_request: badCn }, grpc.status.FAILED_PRECONDITION, /^invalid CommonName: admin$/);
  });

  test('FAILED_PRECONDITION: a token that is forged, expired, or proves another identity', async () => {
    const csr = await csrDer(WEB);
    const forged = createLocalToken(generateTokenKey(), web);
    await refused({ identity: WEB, token: forged, certificate_signing_request: csr }, grpc.status.FAILED_PRECONDITION, /signature does not verify/);
    const expired = createLocalToken(key, web, HOUR, new Date(Date.now() - 2 * HOUR));
    await refused({ identity: WEB, token: expired, certificate_signing_request: csr }, grpc.status.FAILED_PRECONDITION, /token expired at/);
    const dbToken = createLocalToken(key, { serviceAccount: 'db', namespace: 'shop' });
    await refused(
      { identity: WEB, token: dbToken, certificate_signing_request: csr },
      grpc.status.FAILED_PRECONDITION,
      /^requested identity did not match provided token: requested=web\.shop\.serviceaccount\.identity\.sluice\.cluster\.local; found=db\.shop\.serviceaccount\.identity\.sluice\.cluster\.local$/,
    );
  });

  test('UNAVAILABLE while no issuer is loaded, and once the issuer has expired', async () => {
    const kept = issuer;
    try {
      issuer = undefined;
      await refused({ identity: WEB, token: webToken, certificate_signing_request: await csrDer(WEB) }, grpc.status.UNAVAILABLE, /^cert issuer not ready yet$/);
      const old = await testPki({ now: new Date(Date.now() - 3 * HOUR), lifetimeMs: HOUR });
      issuer = { credential: old.issuer, anchors: [old.anchor.certificate], origin: 'test' };
      await refused({ identity: WEB, token: webToken, certificate_signing_request: await csrDer(WEB) }, grpc.status.UNAVAILABLE, /^cert issuer expired at /);
    } finally {
      issuer = kept;
    }
  });
});

// The PKI: anchors and issuers are CAs that chain the way Linkerd's do, PEM round-trips, and every
// reason to refuse an issuer is detected. Node's own X509Certificate (OpenSSL) is the independent
// check that what @peculiar/x509 wrote is what we meant.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as OpenSslCertificate, generateKeyPairSync } from 'node:crypto';
import {
  CLOCK_SKEW_MS,
  certificatesToPem,
  chainsToAnchors,
  checkIssuer,
  createCsr,
  createIssuer,
  createTrustAnchor,
  describeIssuerProblem,
  generateKeyPair,
  isCa,
  issueLeaf,
  keyMatchesCertificate,
  parseCertificatesPem,
  parsePrivateKeyPem,
  privateKeyToPem,
  timeLeftMs,
  type CaCredential,
} from './pki.ts';

const HOUR = 3600_000;
const openssl = (c: CaCredential['certificate']): OpenSslCertificate => new OpenSslCertificate(c.toString('pem'));

describe('trust anchor and issuer', () => {
  test('the anchor is a self-signed CA named root.<ns>.<trust-domain>, valid one year', async () => {
    const now = new Date();
    const anchor = await createTrustAnchor({ trustDomain: 'example.org', now });
    const cert = openssl(anchor.certificate);
    assert.equal(cert.subject, 'CN=root.sluice.example.org');
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(isCa(anchor.certificate), true);
    assert.equal(anchor.certificate.notBefore.getTime(), Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
    assert.ok(Math.abs(timeLeftMs(anchor.certificate, now) - 365 * 24 * HOUR) < 1000);
  });

  test('the issuer is a CA named identity.<ns>.<trust-domain>, signed by the anchor', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor, { controlPlaneNamespace: 'mesh', trustDomain: 'cluster.local' });
    const cert = openssl(issuer.certificate);
    assert.equal(cert.subject, 'CN=identity.mesh.cluster.local');
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(openssl(anchor.certificate)));
    assert.ok(cert.verify(openssl(anchor.certificate).publicKey));
    assert.equal(await chainsToAnchors(issuer.certificate, [], [anchor.certificate]), true);
    assert.equal(await checkIssuer(issuer, [anchor.certificate]), undefined);
  });

  test('an issuer never outlives its anchor', async () => {
    const anchor = await createTrustAnchor({ lifetimeMs: 2 * HOUR });
    const issuer = await createIssuer(anchor, { lifetimeMs: 100 * HOUR });
    assert.equal(issuer.certificate.notAfter.getTime(), anchor.certificate.notAfter.getTime());
  });
});

describe('leaf certificates', () => {
  test('a leaf carries the identity as its only SAN, serves both ends of mTLS and chains to the anchor', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor);
    const keys = await generateKeyPair();
    const identity = 'web.shop.serviceaccount.identity.sluice.cluster.local';
    const now = new Date();
    const leaf = await issueLeaf(issuer, { identity, publicKey: keys.publicKey, now });
    const cert = openssl(leaf);
    assert.equal(cert.subjectAltName, `DNS:${identity}`);
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // serverAuth, clientAuth
    assert.ok(cert.checkIssued(openssl(issuer.certificate)));
    assert.ok(cert.verify(openssl(issuer.certificate).publicKey));
    assert.equal(await chainsToAnchors(leaf, [issuer.certificate], [anchor.certificate]), true);
    assert.ok(leaf.notBefore.getTime() <= now.getTime() - CLOCK_SKEW_MS + 1000, 'not-before allows for clock skew');
    assert.ok(Math.abs(timeLeftMs(leaf, now) - 24 * HOUR) < 1000, 'lives 24 h by default');
  });

  test('a leaf never outlives its issuer', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor, { lifetimeMs: HOUR });
    const keys = await generateKeyPair();
    const leaf = await issueLeaf(issuer, { identity: 'a.b.serviceaccount.identity.sluice.cluster.local', publicKey: keys.publicKey });
    assert.equal(leaf.notAfter.getTime(), issuer.certificate.notAfter.getTime());
  });

  test('a CSR made here names the identity once', async () => {
    const csr = await createCsr('a.b.serviceaccount.identity.sluice.cluster.local', await generateKeyPair());
    assert.equal(await csr.verify(), true);
    assert.equal(csr.subject, 'CN=a.b.serviceaccount.identity.sluice.cluster.local');
  });
});

describe('PEM', () => {
  test('certificates and PKCS#8 keys round-trip', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor);
    const bundle = certificatesToPem([issuer.certificate, anchor.certificate]);
    const parsed = parseCertificatesPem(bundle);
    assert.deepEqual(
      parsed.map((c) => c.subject),
      [issuer.certificate.subject, anchor.certificate.subject],
    );
    const keyPem = await privateKeyToPem(issuer.privateKey);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = await parsePrivateKeyPem(keyPem);
    assert.equal(await keyMatchesCertificate(key, issuer.certificate), true);
    assert.equal(await keyMatchesCertificate(key, anchor.certificate), false);
  });

  test('SEC1 "EC PRIVATE KEY" files (step, openssl ecparam) are read too', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'sec1' }) as string;
    assert.match(pem, /BEGIN EC PRIVATE KEY/);
    const key = await parsePrivateKeyPem(pem);
    assert.equal(key.type, 'private');
  });

  test('bad input is refused with a reason', async () => {
    assert.throws(() => parseCertificatesPem('hello'), /no PEM CERTIFICATE block found/);
    assert.throws(
      () => parseCertificatesPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      /certificate 1 of 1 does not parse/,
    );
    await assert.rejects(parsePrivateKeyPem('nope'), /private key does not parse/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await assert.rejects(parsePrivateKeyPem(rsa), /must be ECDSA P-256 \(got rsa\)/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await assert.rejects(parsePrivateKeyPem(p384), /must be ECDSA P-256 \(got ec secp384r1\)/);
  });
});

describe('checkIssuer', () => {
  test('refuses a certificate that is not a CA', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor);
    const keys = await generateKeyPair();
    const leaf = await issueLeaf(issuer, { identity: 'x.y.serviceaccount.identity.sluice.cluster.local', publicKey: keys.publicKey });
    const problem = await checkIssuer({ certificate: leaf, chain: [issuer.certificate], privateKey: keys.privateKey }, [anchor.certificate]);
    assert.equal(problem?.kind, 'not-ca');
    assert.match(describeIssuerProblem(problem!), /is not a CA/);
  });

  test('refuses an expired issuer and one not valid yet', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor, { lifetimeMs: HOUR });
    const later = new Date(Date.now() + 2 * HOUR);
    const expired = await checkIssuer(issuer, [anchor.certificate], later);
    assert.equal(expired?.kind, 'expired');
    assert.match(describeIssuerProblem(expired!), /has expired \(not after \d{4}-/);
    const early = await checkIssuer(issuer, [anchor.certificate], new Date(Date.now() - HOUR));
    assert.equal(early?.kind, 'not-yet-valid');
  });

  test('refuses an issuer signed by another anchor, naming the anchors', async () => {
    const anchor = await createTrustAnchor();
    const stranger = await createTrustAnchor({ commonName: 'root.elsewhere' });
    const issuer = await createIssuer(stranger);
    const problem = await checkIssuer(issuer, [anchor.certificate]);
    assert.equal(problem?.kind, 'untrusted');
    assert.equal(
      describeIssuerProblem(problem!),
      'issuer certificate "CN=identity.sluice.cluster.local" is not signed by the trust anchors ("CN=root.sluice.cluster.local")',
    );
    // A look-alike anchor (same name, other key) does not vouch for it: signatures are checked.
    const lookAlike = await createTrustAnchor({ commonName: 'root.elsewhere' });
    assert.equal((await checkIssuer(issuer, [lookAlike.certificate]))?.kind, 'untrusted');
    // Trusting both anchors (as during an anchor rotation) accepts it.
    assert.equal(await checkIssuer(issuer, [anchor.certificate, stranger.certificate]), undefined);
  });

  test('refuses a key that is not the certificate\'s', async () => {
    const anchor = await createTrustAnchor();
    const issuer = await createIssuer(anchor);
    const other = await generateKeyPair();
    const problem = await checkIssuer({ ...issuer, privateKey: other.privateKey }, [anchor.certificate]);
    assert.equal(problem?.kind, 'key-mismatch');
  });

  test('accepts an issuer below an intermediate when the chain is given', async () => {
    const anchor = await createTrustAnchor();
    const middle = await createIssuer(anchor, { commonName: 'middle' });
    // A CA below `middle` (path length aside, which verifiers of the leaf chain judge).
    const issuer = await createIssuer({ ...middle, chain: [] }, { commonName: 'identity.sluice.cluster.local' });
    const withChain = { ...issuer, chain: [middle.certificate] };
    assert.equal(await checkIssuer(withChain, [anchor.certificate]), undefined);
    assert.equal((await checkIssuer(issuer, [anchor.certificate]))?.kind, 'untrusted');
  });
});

// Identity in Kubernetes, through the real @kubernetes/client-node and the project's fake API server:
// tokens checked with TokenReviews (audience identity.sluice.dev, username → identity, Linkerd's
// status codes), and the issuer from the Secret and ConfigMap, followed as they change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as OpenSslCertificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { AuthenticationV1Api } from '@kubernetes/client-node';
import { kubeConfigFor } from '../../../test/fake-kube/client.ts';
import { FakeKube, type KubeObject, type TokenReviewStatus } from '../../../test/fake-kube/server.ts';
import { controllerDefaults } from '../config.ts';
import { startIdentity, type RunningIdentity } from './component.ts';
import { ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP } from './issuer-kubernetes.ts';
import { certificatesToPem, createIssuer, createTrustAnchor, privateKeyToPem, type CaCredential } from './pki.ts';
import { TOKEN_AUDIENCE } from './token.ts';
import { TokenReviewValidator, tokenReviewsOf } from './token-review.ts';
import { csrDer, eventually, identityOf, IdentityClient, recordingLog, serveIdentity, testPki } from './testkit.ts';

const WEB = identityOf('web', 'shop');
/** Tokens the fake API server knows: token → the reviewed status. */
const KNOWN: Record<string, TokenReviewStatus> = {
  'web-token': { authenticated: true, user: { username: 'system:serviceaccount:shop:web' }, audiences: [TOKEN_AUDIENCE] },
  'db-token': { authenticated: true, user: { username: 'system:serviceaccount:shop:db' }, audiences: [TOKEN_AUDIENCE] },
  'other-audience': { authenticated: true, user: { username: 'system:serviceaccount:shop:web' }, audiences: ['https://kubernetes.default.svc'] },
  'a-user': { authenticated: true, user: { username: 'alice' }, audiences: [TOKEN_AUDIENCE] },
  'malformed-jwt': { authenticated: false, error: 'token lookup failed: malformed JWT' },
};

let fake: FakeKube;
before(async () => {
  fake = await FakeKube.start();
  fake.reviewTokens((spec) => KNOWN[spec.token] ?? { authenticated: false });
});
after(() => fake.close());

async function secretOf(issuer: CaCredential, anchor: CaCredential): Promise<KubeObject> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: ISSUER_SECRET, namespace: 'sluice' },
    data: {
      'tls.crt': Buffer.from(certificatesToPem([issuer.certificate])).toString('base64'),
      'tls.key': Buffer.from(await privateKeyToPem(issuer.privateKey)).toString('base64'),
      'ca.crt': Buffer.from(certificatesToPem([anchor.certificate])).toString('base64'),
    },
  };
}

function trustRootsOf(anchors: readonly CaCredential[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TRUST_ROOTS_CONFIGMAP, namespace: 'sluice' },
    data: { 'ca-bundle.crt': certificatesToPem(anchors.map((a) => a.certificate)) },
  };
}

describe('TokenReviewValidator', { timeout: 30_000 }, () => {
  const validator = (): TokenReviewValidator => new TokenReviewValidator(tokenReviewsOf(kubeConfigFor(fake).makeApiClient(AuthenticationV1Api)));
  const token = (text: string): Buffer => Buffer.from(text);

  test('a reviewed service-account token proves that service account; the review asks for our audience', async () => {
    const before = fake.tokenReviews.length;
    assert.deepEqual(await validator().validate(token('web-token')), { kind: 'authenticated', account: { serviceAccount: 'web', namespace: 'shop' } });
    assert.deepEqual(fake.tokenReviews.slice(before), [{ token: 'web-token', audiences: [TOKEN_AUDIENCE] }]);
  });

  test('verdicts for tokens that prove nothing', async () => {
    assert.deepEqual(await validator().validate(token('unknown')), { kind: 'unauthenticated', reason: 'authentication token could not be authenticated' });
    assert.deepEqual(await validator().validate(token('other-audience')), { kind: 'unauthenticated', reason: `token is not valid for audience ${TOKEN_AUDIENCE}` });
    assert.deepEqual(await validator().validate(token('malformed-jwt')), { kind: 'invalid', reason: 'token lookup failed: malformed JWT' });
    assert.deepEqual(await validator().validate(token('a-user')), { kind: 'invalid', reason: 'username must be in form system:serviceaccount:NS:SA: alice' });
  });

  test('an API server that fails makes the validator reject (the service answers INTERNAL)', async () => {
    fake.fail(['create'], 500);
    try {
      await assert.rejects(validator().validate(token('web-token')));
    } finally {
      fake.heal();
    }
  });
});

describe('identity with kubernetes discovery', { timeout: 60_000 }, () => {
  const cfg = { ...controllerDefaults(), discovery: 'kubernetes' as const };
  const deps = { kubeConfig: async () => kubeConfigFor(fake) };

  test('Certify with a reviewed token; the issuer follows the Secret; a bad Secret leaves the issuer in place', async () => {
    const pki = await testPki();
    fake.apply(trustRootsOf([pki.anchor]));
    fake.apply((await secretOf(pki.issuer, pki.anchor)));
    const { log, lines } = recordingLog();
    const identity = (await startIdentity(cfg, log, deps)) as RunningIdentity;
    const server = await serveIdentity(identity.service.implementation());
    const client = new IdentityClient(server.address);
    const issuedBy = async (): Promise<string> => {
      const response = await client.certify({ identity: WEB, token: 'web-token', certificate_signing_request: await csrDer(WEB) });
      return new OpenSslCertificate(response.intermediate_certificates[0]!).fingerprint256;
    };
    const fingerprint = (c: CaCredential): string => new OpenSslCertificate(c.certificate.toString('pem')).fingerprint256;
    try {
      assert.equal(await issuedBy(), fingerprint(pki.issuer));
      await assert.rejects(client.certify({ identity: WEB, token: 'db-token', certificate_signing_request: await csrDer(WEB) }), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
        assert.match(e.details, /requested identity did not match provided token/);
        return true;
      });
      await assert.rejects(client.certify({ identity: WEB, token: 'malformed-jwt', certificate_signing_request: await csrDer(WEB) }), { code: grpc.status.INVALID_ARGUMENT });
      fake.fail(['create'], 500);
      try {
        await assert.rejects(client.certify({ identity: WEB, token: 'web-token', certificate_signing_request: await csrDer(WEB) }), { code: grpc.status.INTERNAL });
      } finally {
        fake.heal();
      }

      // Anchor rotation, step 1: trust both anchors; step 2: an issuer from the new anchor.
      const newAnchor = await createTrustAnchor({ commonName: 'root.sluice.cluster.local' });
      fake.apply(trustRootsOf([pki.anchor, newAnchor]));
      const next = await createIssuer(newAnchor);
      fake.apply((await secretOf(next, newAnchor)));
      await eventually('the new issuer', () => identity.holder.current?.credential.certificate.serialNumber === next.certificate.serialNumber);
      assert.equal(await issuedBy(), fingerprint(next));

      // An issuer the trust roots do not vouch for is refused; the current one stays.
      const stranger = await testPki();
      fake.apply((await secretOf(stranger.issuer, stranger.anchor)));
      await eventually('the refusal in the log', () => lines.some((l) => l.includes('identity issuer update skipped; keeping the current issuer')));
      assert.equal(await issuedBy(), fingerprint(next));
    } finally {
      client.close();
      server.close();
      await identity.close();
      fake.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: ISSUER_SECRET, namespace: 'sluice' } });
      fake.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: TRUST_ROOTS_CONFIGMAP, namespace: 'sluice' } });
    }
  });

  test('without the Secret Certify answers UNAVAILABLE, until it appears', async () => {
    const { log, lines } = recordingLog();
    const identity = (await startIdentity(cfg, log, deps)) as RunningIdentity;
    const server = await serveIdentity(identity.service.implementation());
    const client = new IdentityClient(server.address);
    try {
      assert.ok(lines.some((l) => l.includes('identity issuer not found') && l.includes(`Secret sluice/${ISSUER_SECRET}`)));
      await assert.rejects(client.certify({ identity: WEB, token: 'web-token', certificate_signing_request: await csrDer(WEB) }), {
        code: grpc.status.UNAVAILABLE,
        details: 'cert issuer not ready yet',
      });
      const pki = await testPki();
      fake.apply(trustRootsOf([pki.anchor]));
      fake.apply((await secretOf(pki.issuer, pki.anchor)));
      await eventually('the issuer', () => identity.holder.current !== undefined);
      const response = await client.certify({ identity: WEB, token: 'web-token', certificate_signing_request: await csrDer(WEB) });
      assert.equal(new OpenSslCertificate(response.leaf_certificate).subjectAltName, `DNS:${WEB}`);
    } finally {
      client.close();
      server.close();
      await identity.close();
      fake.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: ISSUER_SECRET, namespace: 'sluice' } });
      fake.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: TRUST_ROOTS_CONFIGMAP, namespace: 'sluice' } });
    }
  });

  test('a bad issuer in the Secret at start is refused with the reason', async () => {
    const pki = await testPki({ now: new Date(Date.now() - 3 * 3600_000), lifetimeMs: 3600_000 });
    fake.apply(trustRootsOf([pki.anchor]));
    fake.apply((await secretOf(pki.issuer, pki.anchor)));
    try {
      await assert.rejects(
        startIdentity(cfg, recordingLog().log, deps),
        /^IssuerRefusedError: identity issuer \(Secret sluice\/sluice-identity-issuer, ConfigMap sluice\/sluice-identity-trust-roots\) refused: issuer certificate "CN=identity\.sluice\.cluster\.local" has expired/,
      );
    } finally {
      fake.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: ISSUER_SECRET, namespace: 'sluice' } });
      fake.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: TRUST_ROOTS_CONFIGMAP, namespace: 'sluice' } });
    }
  });
});

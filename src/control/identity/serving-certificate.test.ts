// The Identity service over TLS: the controller serves a certificate it issued itself for its own
// identity, which a client trusting only the anchors and expecting that name accepts, and a client
// expecting another name or trusting other anchors refuses; a new issuer brings a new certificate
// without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN } from '../../api/identity-name.ts';
import { CertifyClient } from '../../acceptor/identity/certify-client.ts';
import { identityDefinition } from './component.ts';
import { IssuerHolder, type IssuerMaterial } from './issuer.ts';
import { certificatesToPem, createIssuer, createTrustAnchor, privateKeyToPem, type CaCredential } from './pki.ts';
import { ServingCertificate, servingCredentials } from './serving-certificate.ts';
import { eventually, quietLog, testPki } from './testkit.ts';

const CONTROLLER = controllerIdentityName(DEFAULT_IDENTITY_DOMAIN);

async function material(issuer: CaCredential, anchor: CaCredential): Promise<IssuerMaterial> {
  return {
    certificatePem: certificatesToPem([issuer.certificate]),
    keyPem: await privateKeyToPem(issuer.privateKey),
    anchorsPem: certificatesToPem([anchor.certificate]),
    origin: 'test',
  };
}

/** The issuer CN of the certificate the server presents to a client that trusts `anchorsPem`. */
function presentedIssuer(port: number, anchorsPem: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: anchorsPem, servername, ALPNProtocols: ['h2'] }, () => {
      const issuer = socket.getPeerCertificate().issuer.CN;
      socket.destroy();
      resolve(Array.isArray(issuer) ? issuer.join(',') : (issuer ?? ''));
    });
    socket.once('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

describe('the Identity service serves its own certificate', { timeout: 60_000 }, () => {
  let pki: Awaited<ReturnType<typeof testPki>>;
  let holder: IssuerHolder;
  let serving: ServingCertificate;
  let server: grpc.Server;
  let port = 0;
  let anchorsPem = '';

  before(async () => {
    pki = await testPki();
    anchorsPem = certificatesToPem([pki.anchor.certificate]);
    holder = new IssuerHolder(quietLog());
    await holder.start(await material(pki.issuer, pki.anchor));
    serving = new ServingCertificate({ holder, identity: CONTROLLER, lifetimeMs: 3600_000, log: quietLog() });
    await serving.start();
    server = new grpc.Server();
    // What Certify answers does not matter here: only whether the call gets through TLS.
    server.addService(identityDefinition(), {
      Certify: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, { leaf_certificate: Buffer.from('ok') }),
    });
    const credentials = servingCredentials(serving);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error === null ? resolve(bound) : reject(error))),
    );
  });
  after(() => {
    server?.forceShutdown();
    serving?.close();
  });

  const call = async (serverName: string, anchors: string): Promise<string> => {
    const client = new CertifyClient({ addr: { host: '127.0.0.1', port }, serverName, anchorsPem: anchors, timeoutMs: 5000 });
    try {
      const response = await client.certify({ identity: 'x', token: Buffer.from('t'), certificate_signing_request: Buffer.from('c') });
      return Buffer.from(response.leaf_certificate ?? []).toString();
    } finally {
      client.close();
    }
  };

  test("a client trusting the anchors and expecting the controller's name gets through", async () => {
    assert.equal(serving.notAfter !== undefined && serving.notAfter.getTime() > Date.now(), true);
    assert.equal(await call(CONTROLLER, anchorsPem), 'ok');
  });

  test('a client expecting another name is refused by its own check', async () => {
    await assert.rejects(call('someone-else.sluice.serviceaccount.identity.sluice.cluster.local', anchorsPem), /UNAVAILABLE/);
  });

  test('a client trusting other anchors is refused', async () => {
    const stranger = certificatesToPem([(await createTrustAnchor({ commonName: 'root.elsewhere' })).certificate]);
    await assert.rejects(call(CONTROLLER, stranger), /UNAVAILABLE/);
  });

  test('a new issuer brings a new serving certificate without a restart', async () => {
    assert.equal(await presentedIssuer(port, anchorsPem, CONTROLLER), 'identity.sluice.cluster.local');
    const next = await createIssuer(pki.anchor, { commonName: 'identity-2.sluice.cluster.local' });
    assert.equal(await holder.offer(await material(next, pki.anchor)), true);
    await eventually('the certificate from the new issuer', () => serving.issuer?.credential.certificate.serialNumber === next.certificate.serialNumber);
    assert.equal(await presentedIssuer(port, anchorsPem, CONTROLLER), 'identity-2.sluice.cluster.local');
    assert.equal(await call(CONTROLLER, anchorsPem), 'ok');
  });
});

describe('the serving certificate renews itself', { timeout: 30_000 }, () => {
  test('at 70 % of its lifetime, with a new key', async () => {
    const pki = await testPki();
    const holder = new IssuerHolder(quietLog());
    await holder.start(await material(pki.issuer, pki.anchor));
    const serving = new ServingCertificate({ holder, identity: CONTROLLER, lifetimeMs: 3000, log: quietLog() });
    const keys: string[] = [];
    serving.addIdentityCertificateListener((update) => {
      if (update !== null) keys.push(update.privateKey.toString());
    });
    try {
      await serving.start();
      const first = serving.notAfter?.getTime() ?? 0;
      // 70 % of 3 s: the next one comes after ~2.1 s.
      await eventually('a renewed certificate', () => (serving.notAfter?.getTime() ?? 0) > first, 5_000);
      await eventually('both certificates delivered', () => keys.length >= 2, 1_000);
      assert.notEqual(keys[0], keys[1], 'each certificate has a key of its own');
    } finally {
      serving.close();
    }
  });
});

// The Tap port's mutual TLS on its own (the whole path, controller to proxy, is in
// src/control/tap/tap-tls.test.ts): nothing is served before the proxy holds a certificate, a renewed
// certificate serves the next handshake without a restart, and handshake errors map to their reasons.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../api/identity-name.ts';
import { certificatesToPem, generateKeyPair, issueLeaf, privateKeyToPem, type CaCredential } from '../control/identity/pki.ts';
import { testPki } from '../control/identity/testkit.ts';
import { Logger } from '../log/logger.ts';
import type { LocalIdentity } from '../workers/transport/local-identity.ts';
import { metricValue } from '../../test/support/proxy.ts';
import { renderPrometheus } from '../telemetry/metrics.ts';
import { refusalOf, TapTls } from './tap-tls.ts';

const CONTROLLER = controllerIdentityName(DEFAULT_IDENTITY_DOMAIN);
const WEB = identityName({ serviceAccount: 'web', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN);

async function identityFor(issuer: CaCredential, anchor: CaCredential, name: string): Promise<LocalIdentity> {
  const keys = await generateKeyPair();
  const leaf = await issueLeaf(issuer, { identity: name, publicKey: keys.publicKey, lifetimeMs: 3600_000 });
  return {
    name,
    certChainPem: certificatesToPem([leaf, issuer.certificate]),
    keyPem: await privateKeyToPem(keys.privateKey),
    trustAnchorsPem: certificatesToPem([anchor.certificate]),
    notAfterMs: leaf.notAfter.getTime(),
  };
}

/** A listener whose connections go through `transport`; what is served is answered `ok` and closed. */
async function serveThrough(transport: TapTls): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    transport.accept(socket, (connection) => connection.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Connects as `client`; resolves with the server certificate's serial and what was read, or the error. */
function handshake(port: number, client: LocalIdentity): Promise<{ serial: string; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      key: client.keyPem,
      cert: client.certChainPem,
      ca: client.trustAnchorsPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    let body = '';
    let serial = '';
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 5 s')), 5000);
    socket.on('secureConnect', () => (serial = new X509Certificate(socket.getPeerCertificate().raw).serialNumber));
    socket.on('data', (chunk: Buffer) => (body += chunk.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(serial === '' ? { error: 'closed before the handshake' } : { serial, body });
    });
    socket.on('error', (error) => resolve({ error: error.message }));
  });
}

describe('the Tap port under identity', { timeout: 30_000 }, () => {
  const servers: net.Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  test('refuses every connection until the proxy holds a certificate, then serves the controller', async () => {
    const { anchor, issuer } = await testPki();
    const transport = new TapTls(new Logger('error', 'plain', 'test', () => {}), CONTROLLER);
    const server = await serveThrough(transport);
    servers.push(server);
    const port = (server.address() as net.AddressInfo).port;
    const controller = await identityFor(issuer, anchor, CONTROLLER);
    const refused = await handshake(port, controller);
    assert.ok('error' in refused && /disconnected before secure TLS connection|closed before the handshake/.test(refused.error), JSON.stringify(refused));
    assert.equal(metricValue(renderPrometheus(transport.metrics()), 'tap_connections_refused_total', { reason: 'no_certificate_yet' }), 1);

    transport.setIdentity(await identityFor(issuer, anchor, WEB));
    const served = await handshake(port, controller);
    assert.ok('body' in served, JSON.stringify(served));
    assert.equal(served.body, 'ok');
  });

  test('a renewed certificate serves the next handshake, without a restart', async () => {
    const { anchor, issuer } = await testPki();
    const transport = new TapTls(new Logger('error', 'plain', 'test', () => {}), CONTROLLER);
    const server = await serveThrough(transport);
    servers.push(server);
    const port = (server.address() as net.AddressInfo).port;
    const controller = await identityFor(issuer, anchor, CONTROLLER);
    const first = await identityFor(issuer, anchor, WEB);
    const renewed = await identityFor(issuer, anchor, WEB);
    transport.setIdentity(first);
    const before = await handshake(port, controller);
    transport.setIdentity(renewed);
    const afterRenewal = await handshake(port, controller);
    assert.ok('serial' in before && 'serial' in afterRenewal);
    assert.equal(before.serial, new X509Certificate(first.certChainPem).serialNumber);
    assert.equal(afterRenewal.serial, new X509Certificate(renewed.certChainPem).serialNumber);
  });

  test('handshake errors map to the reasons counted', () => {
    assert.equal(refusalOf({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'not_tls');
    assert.equal(refusalOf({ code: 'ERR_SSL_HTTP_REQUEST' }), 'not_tls');
    assert.equal(refusalOf({ code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }), 'no_client_certificate');
    assert.equal(refusalOf({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }), 'untrusted_client_certificate');
    assert.equal(refusalOf({ code: 'ECONNRESET' }), 'handshake_failed');
    assert.equal(refusalOf({ code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }), 'handshake_failed');
  });
});

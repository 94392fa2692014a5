// The relay's side of tap's mutual TLS against a grpc-js Tap server that requires client certificates
// and records who called: the controller's certificate of the moment is presented (a renewal is used
// from the next window on), the relay refuses to call without one when identity is on, and the proxy's
// identity checks are pure functions tested here too.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../../api/identity-name.ts';
import { tapServiceDefinition } from '../../api/tap.ts';
import { Logger } from '../../log/logger.ts';
import { ControllerIdentity, type ControllerCertificate } from '../context.ts';
import type { PodInfo } from '../discovery/types.ts';
import { certificatesToPem, generateKeyPair, issueLeaf, privateKeyToPem } from '../identity/pki.ts';
import { testPki, type TestPki } from '../identity/testkit.ts';
import { checkProxyIdentity, expectedProxyIdentity } from './proxy-tls.ts';
import { relayTap } from './relay.ts';
import { TapRequestError, TAP_PORT_LABEL, type TapPlan } from './resolve.ts';

const CONTROLLER = controllerIdentityName(DEFAULT_IDENTITY_DOMAIN);
const WEB = identityName({ serviceAccount: 'web', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN);

async function certificateFor(pki: TestPki, name: string): Promise<ControllerCertificate> {
  const keys = await generateKeyPair();
  const leaf = await issueLeaf(pki.issuer, { identity: name, publicKey: keys.publicKey, lifetimeMs: 3600_000 });
  return {
    name,
    certChainPem: certificatesToPem([leaf, pki.issuer.certificate]),
    keyPem: await privateKeyToPem(keys.privateKey),
    trustAnchorsPem: certificatesToPem([pki.anchor.certificate]),
  };
}

describe("the relay's mutual TLS to a proxy's Tap server", { timeout: 30_000 }, () => {
  let pki: TestPki;
  let server: grpc.Server;
  let port = 0;
  /** The serial number of the client certificate of each Observe call, in order. */
  const callers: string[] = [];

  before(async () => {
    pki = await testPki();
    const proxy = await certificateFor(pki, WEB);
    server = new grpc.Server();
    server.addService(tapServiceDefinition(), {
      // As a proxy at its limit: the call ends at once, and the relay calls again next window.
      Observe: (call: grpc.ServerWritableStream<object, object>) => {
        const certificate = call.getAuthContext().sslPeerCertificate;
        callers.push(certificate === undefined ? 'none' : new X509Certificate(certificate.raw).serialNumber);
        call.end();
      },
    });
    const credentials = grpc.ServerCredentials.createSsl(Buffer.from(proxy.trustAnchorsPem), [{ private_key: Buffer.from(proxy.keyPem), cert_chain: Buffer.from(proxy.certChainPem) }], true);
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error === null ? resolve(bound) : reject(error))));
  });
  after(() => server.forceShutdown());

  const pod = (serviceAccount: string): PodInfo => ({
    namespace: 'shop',
    name: 'web-1',
    ip: '127.0.0.1',
    owner: { kind: 'Deployment', name: 'web' },
    serviceAccount,
    meshed: true,
    phase: 'Running',
    labels: { [TAP_PORT_LABEL]: String(port) },
  });
  const plan = (serviceAccount = 'web'): TapPlan => ({ resource: { type: 'deployment', namespace: 'shop', name: 'web' }, pods: [pod(serviceAccount)], match: undefined, maxRps: 1, headers: false });
  const options = (controller: ControllerIdentity) => ({
    log: new Logger('error', 'plain', 'test', () => {}),
    tapPort: 4190,
    windowMs: 100,
    pods: () => [],
    identity: { controller, domain: DEFAULT_IDENTITY_DOMAIN },
  });

  test("presents the controller's certificate, and a renewed one from the next window on", async () => {
    let current = await certificateFor(pki, CONTROLLER);
    const first = new X509Certificate(current.certChainPem).serialNumber;
    const controller = new ControllerIdentity();
    controller.provide(() => current);
    const abort = new AbortController();
    const relayed = relayTap(plan(), () => {}, abort.signal, options(controller));
    const seen = async (serial: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!callers.includes(serial)) {
        assert.ok(Date.now() < deadline, `a call with certificate ${serial}; seen ${callers.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await seen(first);
    current = await certificateFor(pki, CONTROLLER);
    const renewed = new X509Certificate(current.certChainPem).serialNumber;
    await seen(renewed);
    abort.abort();
    await relayed;
    // Once renewed, the old certificate is not presented again.
    assert.ok(!callers.slice(callers.indexOf(renewed)).includes(first));
  });

  test('with identity on but no certificate yet, it calls no proxy: UNAVAILABLE saying why', async () => {
    const controller = new ControllerIdentity();
    controller.provide(() => undefined);
    const before = callers.length;
    await assert.rejects(
      relayTap(plan(), () => {}, new AbortController().signal, options(controller)),
      (error: unknown) => error instanceof TapRequestError && error.code === 14 && /holds no certificate yet/.test(error.message),
    );
    assert.equal(callers.length, before);
  });

  test("a proxy that is not the pod's identity is not tapped; the failure names both", async () => {
    const controller = new ControllerIdentity();
    const own = await certificateFor(pki, CONTROLLER);
    controller.provide(() => own);
    await assert.rejects(
      relayTap(plan('db'), () => {}, new AbortController().signal, options(controller)),
      (error: unknown) => error instanceof TapRequestError && error.message.includes(`is for ${WEB}, not the pod's identity ${identityName({ serviceAccount: 'db', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN)}`),
    );
  });

  test('identity checks, pure', () => {
    assert.equal(expectedProxyIdentity(pod('web'), DEFAULT_IDENTITY_DOMAIN), WEB);
    assert.equal(expectedProxyIdentity(pod(''), DEFAULT_IDENTITY_DOMAIN), undefined);
    assert.equal(checkProxyIdentity(WEB, `DNS:${WEB}`), undefined);
    assert.equal(checkProxyIdentity(WEB, `DNS:${WEB.toUpperCase()}`), undefined);
    assert.match(checkProxyIdentity(WEB, 'DNS:other.name')?.message ?? '', /is for other\.name, not the pod's identity/);
    assert.match(checkProxyIdentity(WEB, undefined)?.message ?? '', /no DNS name/);
    // Chain only: any single mesh identity.
    assert.equal(checkProxyIdentity(undefined, 'DNS:any.name'), undefined);
    assert.ok(checkProxyIdentity(undefined, 'DNS:a.b, DNS:c.d') !== undefined);
  });
});

// The authenticated tap end to end, over real mutual TLS: the real controller (identity from issuer
// files, file discovery) and a real proxy with identity as child processes on loopback. The controller's
// public API taps the proxy with its own certificate; the proxy serves tap only to the controller's
// identity: a caller with another mesh identity gets PERMISSION_DENIED naming both, one with an untrusted
// certificate, without a certificate or in plaintext is refused in the handshake; each refusal is
// counted by reason. The relay in turn refuses a proxy whose certificate is not the pod's identity.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../../api/identity-name.ts';
import { tapClient } from '../../api/tap.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../identity/local-token.ts';
import { certificatesToPem, generateKeyPair, issueLeaf, privateKeyToPem, type CaCredential } from '../identity/pki.ts';
import { eventually, tempDir, testPki, writeIssuerFiles, type TestPki } from '../identity/testkit.ts';
import { startControllerProcess, type ControllerProcess } from '../../../test/support/controller-process.ts';
import { closeServer, listen } from '../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../test/support/proxy.ts';

const CONTROLLER = controllerIdentityName(DEFAULT_IDENTITY_DOMAIN);
const WEB = identityName({ serviceAccount: 'web', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN);
const DB = identityName({ serviceAccount: 'db', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN);

/** A loopback port nothing listens on (bound, read, released). */
function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** File discovery: web-1 (account web) and db-1 (account db), whose tap ports both lead to web's proxy. */
function meshFile(tapPort: number): string {
  const pod = (name: string, account: string): string =>
    `      ${name}:\n        ip: 127.0.0.1\n        owner: deployment/${account}\n        serviceAccount: ${account}\n        meshed: true\n` +
    `        labels:\n          sluice.io/tap-port: "${tapPort}"\n`;
  return `namespaces:\n  shop:\n    pods:\n${pod('web-1', 'web')}${pod('db-1', 'db')}`;
}

/** A key and a certificate for `identity` from `issuer`, as TLS options. */
async function credentialFor(issuer: CaCredential, identity: string): Promise<{ key: string; cert: string }> {
  const keys = await generateKeyPair();
  const leaf = await issueLeaf(issuer, { identity, publicKey: keys.publicKey, lifetimeMs: 3600_000 });
  return { key: await privateKeyToPem(keys.privateKey), cert: certificatesToPem([leaf, issuer.certificate]) };
}

/** One Observe call on the proxy's Tap port with `credentials`; resolves with its end status. */
function observeWith(addr: string, credentials: grpc.ChannelCredentials): Promise<grpc.StatusObject> {
  const client = tapClient(addr, credentials, { 'grpc.ssl_target_name_override': WEB });
  return new Promise((resolve) => {
    const call = client.Observe({ limit: 1 }, { deadline: Date.now() + 10_000 });
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve(status);
    });
  });
}

/** TapByResource through the controller's public API (HTTP/JSON): messages until `stop` says so, or the stream ends. */
async function tapThroughController(publicApi: string, resource: object, stop: (message: Record<string, any>) => boolean, timeoutMs = 20_000): Promise<Record<string, any>[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const messages: Record<string, any>[] = [];
  try {
    const response = await fetch(`http://${publicApi}/api/v1/TapByResource`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: { resource }, maxRps: 100 }),
      signal: abort.signal,
    });
    let pending = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      pending += Buffer.from(chunk).toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() === '') continue;
        const message = JSON.parse(line) as Record<string, any>;
        messages.push(message);
        if (stop(message)) {
          abort.abort();
          return messages;
        }
      }
    }
    return messages;
  } catch (error) {
    if (abort.signal.aborted) return messages;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

describe('tap over mutual TLS: the real controller and a proxy with identity', { timeout: 120_000 }, () => {
  let dir = '';
  let pki: TestPki;
  let controller: ControllerProcess;
  let proxy: RunningProxy;
  let backend: http.Server;
  let tapAddr = '';
  let anchorsPem = '';
  let sending = true;

  before(async () => {
    dir = tempDir();
    pki = await testPki();
    anchorsPem = certificatesToPem([pki.anchor.certificate]);
    const files = await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
    const key = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(key));
    writeFileSync(path.join(dir, 'web.token'), createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    const tapPort = await unusedPort();
    tapAddr = `127.0.0.1:${tapPort}`;
    writeFileSync(path.join(dir, 'mesh.yaml'), meshFile(tapPort));
    controller = await startControllerProcess([
      '--discovery=file',
      `--discovery-file=${path.join(dir, 'mesh.yaml')}`,
      '--identity-addr=127.0.0.1:0',
      `--identity-issuer-cert=${files.certificate}`,
      `--identity-issuer-key=${files.key}`,
      `--identity-trust-anchors=${files.anchors}`,
      `--identity-token-key=${path.join(dir, 'token.key')}`,
    ]);
    const identityAddr = /controller ready.* identity=(\S+)/.exec(controller.logs())?.[1];
    assert.ok(identityAddr !== undefined, controller.logs());
    backend = http.createServer((_req, res) => res.end('ok'));
    const backendPort = await listen(backend);
    proxy = await startProxy({
      SLUICE_PROXY_TAP_LISTEN_ADDR: tapAddr,
      SLUICE_PROXY_TAP_SVC_NAME: CONTROLLER,
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${backendPort}`,
      SLUICE_PROXY_IDENTITY_DIR: dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: anchorsPem,
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: path.join(dir, 'web.token'),
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: WEB,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: identityAddr,
      SLUICE_PROXY_IDENTITY_SVC_NAME: CONTROLLER,
    });
    await eventually('the proxy is ready (certified)', async () => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status === 200, 20_000);
    // Requests through the proxy for taps to see, for as long as the suite runs.
    void (async () => {
      while (sending) {
        await fetch(`http://127.0.0.1:${proxy.inbound.port}/hello`).then((r) => r.text()).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  });

  after(async () => {
    sending = false;
    await proxy?.stop('SIGKILL');
    await controller?.stop();
    if (backend !== undefined) await closeServer(backend);
    rmSync(dir, { recursive: true, force: true });
  });

  test("the controller's tap relay taps the proxy over mutual TLS, with its own certificate", async () => {
    const messages = await tapThroughController(controller.publicApi, { namespace: 'shop', type: 'deployment', name: 'web' }, (m) => m['http']?.['request_init'] !== undefined || 'error' in m);
    const last = messages.at(-1);
    assert.ok(last !== undefined && !('error' in last), `an event, not an error: ${JSON.stringify(last)}\n${controller.logs()}`);
    assert.equal(last['http']['request_init']['path'], '/hello');
    assert.equal(last['destination_meta']['labels']['pod'], 'web-1');
  });

  test("the relay refuses a proxy whose certificate is not the pod's identity (db-1's port leads to web's proxy)", async () => {
    const messages = await tapThroughController(controller.publicApi, { namespace: 'shop', type: 'deployment', name: 'db' }, (m) => 'error' in m);
    const last = messages.at(-1);
    assert.ok(last !== undefined && 'error' in last, JSON.stringify(messages));
    assert.match(last['error'], /db-1/);
    assert.match(last['error'], new RegExp(`not the pod's identity ${DB.replaceAll('.', '\\.')}`));
  });

  test('a caller with another mesh identity is answered PERMISSION_DENIED naming both identities', async () => {
    const web = await credentialFor(pki.issuer, WEB);
    const context = tls.createSecureContext({ ...web, ca: anchorsPem });
    const status = await observeWith(tapAddr, grpc.credentials.createFromSecureContext(context));
    assert.equal(status.code, grpc.status.PERMISSION_DENIED, status.details);
    assert.equal(status.details, `tap is served only to ${CONTROLLER} (SLUICE_PROXY_TAP_SVC_NAME); this caller is ${WEB}`);
  });

  test('an untrusted certificate (even for the controller name), no certificate, or plaintext: refused in the handshake, counted by reason', async () => {
    const foreign = await testPki();
    const impostor = await credentialFor(foreign.issuer, CONTROLLER);
    const untrusted = await observeWith(tapAddr, grpc.credentials.createFromSecureContext(tls.createSecureContext({ ...impostor, ca: anchorsPem })));
    assert.equal(untrusted.code, grpc.status.UNAVAILABLE, untrusted.details);
    const anonymous = await observeWith(tapAddr, grpc.credentials.createFromSecureContext(tls.createSecureContext({ ca: anchorsPem })));
    assert.equal(anonymous.code, grpc.status.UNAVAILABLE, anonymous.details);
    const plaintext = await observeWith(tapAddr, grpc.credentials.createInsecure());
    assert.equal(plaintext.code, grpc.status.UNAVAILABLE, plaintext.details);

    const metrics = await proxy.metrics();
    for (const reason of ['untrusted_client_certificate', 'no_client_certificate', 'not_tls', 'wrong_identity']) {
      assert.ok(metricValue(metrics, 'tap_connections_refused_total', { reason }) >= 1, `${reason} counted:\n${proxy.logs()}`);
    }
    // Logged once per peer and reason, with the reason.
    assert.match(proxy.logs(), /tap connection refused .*reason=untrusted_client_certificate/);
    assert.equal((proxy.logs().match(/reason=no_client_certificate/g) ?? []).length, 1);
  });
});

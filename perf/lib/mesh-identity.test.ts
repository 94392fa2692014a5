import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIdentityConfig } from '../../src/config/identity-config.ts';
import { CLIENT_IDENTITY, SERVER_IDENTITY, prepareMeshIdentity } from './mesh-identity.ts';
import { meshDiscoveryYaml } from './mesh.ts';

test("the endpoint's identity is the one the discovery file's pod gets (service account backend in perf)", () => {
  assert.equal(SERVER_IDENTITY, 'backend.perf.serviceaccount.identity.sluice.cluster.local');
  assert.equal(CLIENT_IDENTITY, 'perf-client.perf.serviceaccount.identity.sluice.cluster.local');
  assert.match(meshDiscoveryYaml({ ip: '127.0.0.1', port: 4143, meshed: true }), /serviceAccount: backend\n\s+meshed: true/);
});

test('proxy environment: all six identity variables, valid for the proxy, a token per service account', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-identity-'));
  try {
    const id = await prepareMeshIdentity(dir);
    const env = id.proxyEnv('backend', '127.0.0.1:40000');
    const config = parseIdentityConfig(env);
    assert.equal(config?.localName, SERVER_IDENTITY);
    assert.deepEqual(config?.svcAddr, { host: '127.0.0.1', port: 40000 });
    assert.equal(config?.svcName, 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local');
    assert.equal(statSync(env['SLUICE_PROXY_IDENTITY_TOKEN_FILE'] ?? '').mode & 0o777, 0o600);
    assert.notEqual(id.proxyEnv('perf-client', '127.0.0.1:40000')['SLUICE_PROXY_IDENTITY_TOKEN_FILE'], env['SLUICE_PROXY_IDENTITY_TOKEN_FILE']);
    // The controller gets the issuer as files, all three, and the token key.
    const flags = id.controllerArgs.filter((a) => a.startsWith('--'));
    assert.deepEqual(flags, ['--identity-issuer-cert', '--identity-issuer-key', '--identity-trust-anchors', '--identity-token-key']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the handshake client's leaf names exactly its identity and chains to the anchors", { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-identity-'));
  try {
    const id = await prepareMeshIdentity(dir);
    const leaf = await id.clientLeaf(CLIENT_IDENTITY);
    const [cert, issuer] = readFileSync(leaf.certFile, 'utf8').split(/(?<=-----END CERTIFICATE-----)\n?/).filter((b) => b.includes('BEGIN')).map((b) => new X509Certificate(b));
    const anchor = new X509Certificate(readFileSync(id.anchorsFile));
    assert.equal(cert?.subjectAltName, `DNS:${CLIENT_IDENTITY}`);
    assert.ok(issuer !== undefined && cert?.verify(issuer.publicKey) === true && issuer.verify(anchor.publicKey));
    assert.equal(statSync(leaf.keyFile).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Where `sluice tap` sends its kubeconfig user's token: only to a loopback or https public API, and
// only when a kubeconfig gives one (the end-to-end path is in src/control/tap/authorize.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { kubeAuthorization, mayCarryToken } from './kube-token.ts';

describe('the kubeconfig token tap forwards', () => {
  it('goes to loopback and https only: never in plaintext across a network', () => {
    for (const base of ['http://127.0.0.1:8085', 'http://127.9.9.9:1', 'http://localhost:8085', 'http://[::1]:8085', 'https://sluice.example:443']) assert.equal(mayCarryToken(base), true, base);
    for (const base of ['http://10.0.0.7:8085', 'http://sluice-public-api.sluice:8085', 'http://[fd00::1]:8085']) assert.equal(mayCarryToken(base), false, base);
  });

  it("is the current user's bearer token; nothing without a kubeconfig, or for a client-certificate user", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-kube-token-'));
    try {
      const write = (name: string, user: object): string => {
        const file = path.join(dir, name);
        writeFileSync(
          file,
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'insecure-skip-tls-verify': true } }],
            users: [{ name: 'u', user }],
            contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
            'current-context': 'x',
          }),
        );
        return file;
      };
      const env = { HOME: dir };
      assert.equal(await kubeAuthorization('http://127.0.0.1:8085', { kubeconfig: write('token', { token: 'abc' }), env }), 'Bearer abc');
      assert.equal(await kubeAuthorization('http://10.0.0.7:8085', { kubeconfig: write('token2', { token: 'abc' }), env }), undefined);
      assert.equal(await kubeAuthorization('http://127.0.0.1:8085', { env }), undefined, 'no kubeconfig at all');
      const withCert = write('cert', { 'client-certificate-data': Buffer.from('not used').toString('base64'), 'client-key-data': Buffer.from('x').toString('base64') });
      assert.equal(await kubeAuthorization('http://127.0.0.1:8085', { kubeconfig: withCert, env }), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

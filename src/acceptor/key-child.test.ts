import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as x509 from '../api/x509.ts';
import { localKeyFromChild, parseChildOutput } from './key-child.ts';

const IDENTITY = 'web.emojivoto.serviceaccount.identity.sluice.cluster.local';

test('the child makes a P-256 key and a CSR for the identity, signed with that key', { timeout: 30_000 }, async () => {
  const key = await localKeyFromChild(IDENTITY);
  const priv = createPrivateKey(key.keyPem);
  assert.equal(priv.asymmetricKeyType, 'ec');
  assert.equal(priv.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const csr = new x509.Pkcs10CertificateRequest(key.csrDer);
  assert.equal(await csr.verify(), true);
  assert.equal(csr.subject, `CN=${IDENTITY}`);
  const names = [...csr.extensions].flatMap((e) => (e instanceof x509.SubjectAlternativeNameExtension ? e.names.items.map((n) => n.value) : []));
  assert.deepEqual(names, [IDENTITY]);
  // The CSR's public key is the private key's.
  const spki = Buffer.from(csr.publicKey.rawData);
  assert.deepEqual(spki, createPublicKey(priv).export({ type: 'spki', format: 'der' }));
});

test('two runs make two different keys', { timeout: 30_000 }, async () => {
  const [a, b] = await Promise.all([localKeyFromChild(IDENTITY), localKeyFromChild(IDENTITY)]);
  assert.notEqual(a.keyPem, b.keyPem);
});

test('a child that fails is reported with what it said', { timeout: 30_000 }, async () => {
  await assert.rejects(localKeyFromChild(''), /key child exited with 2: key-child-main: usage/);
  await assert.rejects(localKeyFromChild(IDENTITY, 30_000, new URL('file:///nonexistent/key-child-main.ts')), /key child exited with 1/);
});

test('a child that hangs is killed at the timeout', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'key-child-'));
  try {
    const script = join(dir, 'hang.mjs');
    writeFileSync(script, 'setInterval(() => {}, 1000);\n');
    await assert.rejects(localKeyFromChild(IDENTITY, 300, pathToFileURL(script)), /key child exited with SIGKILL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output without a key or a CSR is refused', () => {
  assert.throws(() => parseChildOutput('{"keyPem":"x","csrDer":"AA=="}'), /no key or no CSR/);
  assert.throws(() => parseChildOutput('{"keyPem":"-----BEGIN PRIVATE KEY-----"}'), /no key or no CSR/);
  assert.throws(() => parseChildOutput('null'), /no object/);
  assert.throws(() => parseChildOutput('garbage'), SyntaxError);
});

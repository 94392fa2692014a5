import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { csrDer, identityOf } from './testkit.ts';
import { signerWorkerUrl, WorkerSigner } from './signer.ts';

test('the worker module has the extension of the module that starts it (sources .ts, built package .js)', () => {
  assert.equal(signerWorkerUrl('file:///app/src/control/identity/signer.ts'), 'file:///app/src/control/identity/signer-worker.ts');
  assert.equal(signerWorkerUrl('file:///app/dist/control/identity/signer.js'), 'file:///app/dist/control/identity/signer-worker.js');
  const own = new URL('./signer.ts', import.meta.url).href;
  assert.ok(existsSync(fileURLToPath(signerWorkerUrl(own))), 'the worker module exists beside the signer');
});

test('the worker signer checks a CSR on its pool and refuses one for another identity', { timeout: 20_000 }, async () => {
  const signer = new WorkerSigner(1);
  try {
    const name = identityOf('web', 'emojivoto');
    const key = await signer.checkCsr(await csrDer(name), name);
    assert.ok(key.length > 60, 'a DER public key comes back');
    await assert.rejects(signer.checkCsr(await csrDer(name), identityOf('voting', 'emojivoto')));
  } finally {
    await signer.close();
  }
});

// The issuer holder's rules: the first issuer must be good, a replacement only replaces when it is
// good, the same material is not checked twice, and offers apply in the order they were made.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IssuerHolder, IssuerRefusedError, type IssuerMaterial } from './issuer.ts';
import { certificatesToPem, createIssuer, privateKeyToPem, type CaCredential } from './pki.ts';
import { recordingLog, testPki } from './testkit.ts';

async function material(issuer: CaCredential, anchors: readonly CaCredential[], origin = 'test'): Promise<IssuerMaterial> {
  return {
    certificatePem: certificatesToPem([issuer.certificate]),
    keyPem: await privateKeyToPem(issuer.privateKey),
    anchorsPem: certificatesToPem(anchors.map((a) => a.certificate)),
    origin,
  };
}

describe('IssuerHolder', () => {
  test('refuses a bad first issuer, naming the origin and the reason', async () => {
    const pki = await testPki();
    const other = await testPki();
    const holder = new IssuerHolder(recordingLog().log);
    await assert.rejects(holder.start(await material(pki.issuer, [other.anchor], 'Secret sluice/x')), (error: Error) => {
      assert.ok(error instanceof IssuerRefusedError);
      assert.match(error.message, /^identity issuer \(Secret sluice\/x\) refused: issuer certificate "CN=identity\.sluice\.cluster\.local" is not signed by the trust anchors/);
      return true;
    });
    assert.equal(holder.current, undefined);
  });

  test('replaces only with a good issuer; logs a refusal once per material', async () => {
    const pki = await testPki();
    const { log, lines } = recordingLog();
    const holder = new IssuerHolder(log);
    await holder.start(await material(pki.issuer, [pki.anchor]));
    assert.equal(await holder.offer(await material(pki.issuer, [pki.anchor])), false, 'unchanged material is ignored');

    const bad = await material((await testPki()).issuer, [pki.anchor]);
    assert.equal(await holder.offer(bad), false);
    assert.equal(await holder.offer(bad), false);
    assert.equal(lines.filter((l) => l.includes('identity issuer update skipped')).length, 1);
    assert.equal(holder.current?.credential.certificate.serialNumber, pki.issuer.certificate.serialNumber);

    const next = await createIssuer(pki.anchor);
    const last = await createIssuer(pki.anchor);
    // Offered back to back: applied in order, so the last one wins.
    const [first, second] = await Promise.all([holder.offer(await material(next, [pki.anchor])), holder.offer(await material(last, [pki.anchor]))]);
    assert.deepEqual([first, second], [true, true]);
    assert.equal(holder.current?.credential.certificate.serialNumber, last.certificate.serialNumber);
    assert.ok(lines.some((l) => l.includes('identity issuer updated')));
    assert.ok(!lines.some((l) => l.includes('expires in')), 'a year-long issuer draws no warning');
  });

  test('an issuer close to its end is loaded with a warning to rotate it', async () => {
    const pki = await testPki({ lifetimeMs: 10 * 86_400_000 });
    const { log, lines } = recordingLog();
    await new IssuerHolder(log).start(await material(pki.issuer, [pki.anchor]));
    assert.ok(lines.some((l) => /WARN .*identity issuer expires in 9 days; rotate it/.test(l)), lines.join('\n'));
  });
});

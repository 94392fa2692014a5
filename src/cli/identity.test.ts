// `sluice identity`: generate writes a PKI the controller accepts, inspect reads it back, token mints
// what the controller's local-mesh validator accepts; bad input is refused with a reason.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as OpenSslCertificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadIssuer } from '../control/identity/issuer.ts';
import { LocalTokenValidator, parseTokenKey } from '../control/identity/local-token.ts';
import { tempDir } from '../control/identity/testkit.ts';
import type { CliIo } from './io.ts';
import { runCli } from './run.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { env: {}, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe('sluice identity', { timeout: 60_000 }, () => {
  test('generate writes an anchor and an issuer the controller accepts, keys readable by the owner only', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const out = await cli(['identity', 'generate', '--out', dir, '--trust-domain', 'example.org', '--issuer-lifetime', '48h']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Trust anchor CN=root\.sluice\.example\.org/);
    const read = (f: string): string => readFileSync(path.join(dir, f), 'utf8');
    const loaded = await loadIssuer({ certificatePem: read('issuer.crt'), keyPem: read('issuer.key'), anchorsPem: read('ca.crt'), origin: 'test' });
    assert.equal(loaded.credential.certificate.subject, 'CN=identity.sluice.example.org');
    const lifetime = loaded.credential.certificate.notAfter.getTime() - Date.now();
    assert.ok(lifetime > 47 * 3600_000 && lifetime <= 48 * 3600_000);
    assert.ok(new OpenSslCertificate(read('issuer.crt')).verify(new OpenSslCertificate(read('ca.crt')).publicKey));
    for (const key of ['ca.key', 'issuer.key', 'token.key']) assert.equal(statSync(path.join(dir, key)).mode & 0o777, 0o600, key);

    const again = await cli(['identity', 'generate', '--out', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds ca\.crt, ca\.key, issuer\.crt, issuer\.key, token\.key; use --force/);
    assert.equal((await cli(['identity', 'generate', '--out', dir, '--force'])).code, 0);
  });

  test('inspect shows subject, names, CA and validity of every certificate in the files', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await cli(['identity', 'generate', '--out', dir]);
    writeFileSync(path.join(dir, 'bundle.pem'), readFileSync(path.join(dir, 'issuer.crt'), 'utf8') + readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
    const out = await cli(['identity', 'inspect', path.join(dir, 'bundle.pem')]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /bundle\.pem \[1\/2\]\nSubject: +CN=identity\.sluice\.cluster\.local\nIssuer: +CN=root\.sluice\.cluster\.local\n/);
    assert.match(out.stdout, /bundle\.pem \[2\/2\]\nSubject: +CN=root\.sluice\.cluster\.local/);
    assert.match(out.stdout, /CA: +yes\nKey: +ECDSA P-256\n/);
    assert.match(out.stdout, /Not after: +\d{4}-\d\d-\d\dT.*\(36\dd\d+h left\)/);

    writeFileSync(path.join(dir, 'junk.pem'), 'hello');
    const bad = await cli(['identity', 'inspect', path.join(dir, 'junk.pem')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /junk\.pem: no PEM CERTIFICATE block found/);
  });

  test('token mints a local-mesh token for the service account, accepted with the same key only', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await cli(['identity', 'generate', '--out', dir]);
    const out = await cli(['identity', 'token', '--key', path.join(dir, 'token.key'), '--sa', 'web', '--ns', 'shop', '--ttl', '1h']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /token for web\.shop\.serviceaccount\.identity\.sluice\.cluster\.local/);
    const validator = new LocalTokenValidator(parseTokenKey(readFileSync(path.join(dir, 'token.key'), 'utf8')));
    assert.deepEqual(await validator.validate(Buffer.from(out.stdout)), { kind: 'authenticated', account: { serviceAccount: 'web', namespace: 'shop' } });
    const later = new LocalTokenValidator(parseTokenKey(readFileSync(path.join(dir, 'token.key'), 'utf8')), () => new Date(Date.now() + 2 * 3600_000));
    assert.equal((await later.validate(Buffer.from(out.stdout))).kind, 'unauthenticated');

    const badSa = await cli(['identity', 'token', '--key', path.join(dir, 'token.key'), '--sa', 'Web_1', '--ns', 'shop']);
    assert.equal(badSa.code, 2);
    assert.match(badSa.stderr, /--sa "Web_1": expected a DNS-1123 label/);
    const missing = await cli(['identity', 'token', '--sa', 'web', '--ns', 'shop']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs --key FILE/);
  });

  test('unknown subcommands and bad lifetimes are usage errors', async () => {
    assert.equal((await cli(['identity', 'rotate'])).code, 2);
    const dir = tempDir();
    dirs.push(dir);
    const bad = await cli(['identity', 'generate', '--out', dir, '--anchor-lifetime', 'forever']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--anchor-lifetime "forever": expected a positive duration/);
  });
});

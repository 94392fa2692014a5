// The identity component as the controller runs it: the issuer from files (reloaded when they change,
// kept when the new ones are bad), refused at start with the reason, and identity off without an issuer.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate as OpenSslCertificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { controllerDefaults, type ControllerConfig } from '../config.ts';
import { startIdentity, type RunningIdentity } from './component.ts';
import { IssuerRefusedError } from './issuer.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from './local-token.ts';
import { createIssuer, createTrustAnchor, generateKeyPair, issueLeaf } from './pki.ts';
import {
  csrDer,
  eventually,
  identityOf,
  IdentityClient,
  quietLog,
  recordingLog,
  serveIdentity,
  tempDir,
  testPki,
  writeIssuerFiles,
} from './testkit.ts';

const HOUR = 3600_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function config(over: Partial<ControllerConfig>): ControllerConfig {
  return { ...controllerDefaults(), ...over };
}

/** Files for a controller: issuer, anchors and a token key. */
async function fileConfig(d: string, pki: Awaited<ReturnType<typeof testPki>>): Promise<{ config: ControllerConfig; key: Buffer }> {
  const files = await writeIssuerFiles(d, pki.issuer, [pki.anchor]);
  const key = generateTokenKey();
  const keyFile = path.join(d, 'token.key');
  writeFileSync(keyFile, formatTokenKey(key));
  return { config: config({ identityIssuerFiles: files, identityTokenKeyFile: keyFile }), key };
}

describe('issuer from files', { timeout: 60_000 }, () => {
  test('a rewritten issuer is used for the next certificate; bad files leave the current one in place', async () => {
    const d = dir();
    const pki = await testPki();
    const { config: cfg, key } = await fileConfig(d, pki);
    const { log, lines } = recordingLog();
    const identity = (await startIdentity(cfg, log)) as RunningIdentity;
    const server = await serveIdentity(identity.service.implementation());
    const client = new IdentityClient(server.address);
    try {
      const WEB = identityOf('web', 'shop');
      const token = createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' });
      const issuedBy = async (): Promise<string> => {
        const response = await client.certify({ identity: WEB, token, certificate_signing_request: await csrDer(WEB) });
        return new OpenSslCertificate(response.intermediate_certificates[0]!).fingerprint256;
      };
      const fingerprint = (c: { certificate: { toString(f: 'pem'): string } }): string => new OpenSslCertificate(c.certificate.toString('pem')).fingerprint256;
      assert.equal(await issuedBy(), fingerprint(pki.issuer));

      // Rotation: a new issuer from the same anchor.
      const next = await createIssuer(pki.anchor);
      await writeIssuerFiles(d, next, [pki.anchor]);
      await eventually('the new issuer', () => identity.holder.current?.credential.certificate.serialNumber === next.certificate.serialNumber);
      assert.equal(await issuedBy(), fingerprint(next));

      // A bad replacement (signed by an anchor the files do not trust) is refused and logged.
      const stranger = await createIssuer(await createTrustAnchor({ commonName: 'root.elsewhere' }));
      await writeIssuerFiles(d, stranger, [pki.anchor]);
      await eventually('the refusal in the log', () => lines.some((l) => l.includes('identity issuer update skipped; keeping the current issuer')));
      assert.ok(lines.some((l) => l.includes('is not signed by the trust anchors')));
      assert.equal(await issuedBy(), fingerprint(next));

      // A key file that is garbage is refused the same way.
      writeFileSync(cfg.identityIssuerFiles!.key, 'not a key');
      await eventually('the key refusal in the log', () => lines.some((l) => l.includes('issuer key: private key does not parse')));
      assert.equal(await issuedBy(), fingerprint(next));
    } finally {
      client.close();
      server.close();
      await identity.close();
    }
  });
});

describe('refusing to start', { timeout: 60_000 }, () => {
  test('an issuer that is not a CA, has expired, or is not signed by the anchors: the reason is the message', async () => {
    const pki = await testPki();
    const keys = await generateKeyPair();
    const leaf = await issueLeaf(pki.issuer, { identity: identityOf('web', 'shop'), publicKey: keys.publicKey });
    const cases = [
      {
        name: 'not a CA',
        issuer: { certificate: leaf, chain: [], privateKey: keys.privateKey },
        anchors: [pki.anchor],
        message: /refused: issuer certificate "CN=web\.shop\.serviceaccount\.identity\.sluice\.cluster\.local" is not a CA \(needs basic constraints CA:TRUE and key usage keyCertSign\)$/,
      },
      {
        name: 'expired',
        issuer: await createIssuer(pki.anchor, { now: new Date(Date.now() - 3 * HOUR), lifetimeMs: HOUR }),
        anchors: [pki.anchor],
        message: /refused: issuer certificate "CN=identity\.sluice\.cluster\.local" has expired \(not after \d{4}-\d\d-\d\dT/,
      },
      {
        name: 'not signed by the anchors',
        issuer: pki.issuer,
        anchors: [await createTrustAnchor({ commonName: 'root.other' })],
        message: /refused: issuer certificate "CN=identity\.sluice\.cluster\.local" is not signed by the trust anchors \("CN=root\.other"\)$/,
      },
    ];
    for (const c of cases) {
      const d = dir();
      const files = await writeIssuerFiles(d, c.issuer, c.anchors);
      const keyFile = path.join(d, 'token.key');
      writeFileSync(keyFile, formatTokenKey(generateTokenKey()));
      await assert.rejects(startIdentity(config({ identityIssuerFiles: files, identityTokenKeyFile: keyFile }), quietLog()), (error: Error) => {
        assert.ok(error instanceof IssuerRefusedError, c.name);
        assert.match(error.message, new RegExp(`^identity issuer \\(files ${d}/issuer.crt, ${d}/issuer.key, ${d}/ca.crt\\) `));
        assert.match(error.message, c.message, c.name);
        return true;
      });
    }
  });

  test('a missing file is named', async () => {
    const d = dir();
    const files = { certificate: path.join(d, 'nope.crt'), key: path.join(d, 'nope.key'), anchors: path.join(d, 'ca.crt') };
    await assert.rejects(startIdentity(config({ identityIssuerFiles: files, identityTokenKeyFile: path.join(d, 'x') }), quietLog()), /cannot read .*token key|identity token key/);
    const pki = await testPki();
    const { config: ok } = await fileConfig(d, pki);
    await assert.rejects(
      startIdentity({ ...ok, identityIssuerFiles: files }, quietLog()),
      new RegExp(`cannot read issuer certificate ${d}/nope.crt: ENOENT`),
    );
  });

  test('sluice-controller exits 1 with the reason on stderr', async () => {
    const d = dir();
    const pki = await testPki({ now: new Date(Date.now() - 3 * HOUR), lifetimeMs: HOUR });
    const { config: cfg } = await fileConfig(d, pki);
    const files = cfg.identityIssuerFiles!;
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/sluice-controller.js'),
        '--discovery=file',
        '--proxy-api-addr=127.0.0.1:0',
        '--public-api-addr=127.0.0.1:0',
        '--identity-addr=127.0.0.1:0',
        `--identity-issuer-cert=${files.certificate}`,
        `--identity-issuer-key=${files.key}`,
        `--identity-trust-anchors=${files.anchors}`,
        `--identity-token-key=${cfg.identityTokenKeyFile!}`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /ERROR identity: identity cannot start reason=".*refused: issuer certificate \\"CN=identity\.sluice\.cluster\.local\\" has expired/);
  });

  test('file discovery without an issuer runs without identity; with an issuer but no token key it refuses', async () => {
    const { log, lines } = recordingLog();
    assert.equal(await startIdentity(config({}), log), undefined);
    assert.ok(lines.some((l) => l.includes('identity off: no issuer')));
    const d = dir();
    const pki = await testPki();
    const files = await writeIssuerFiles(d, pki.issuer, [pki.anchor]);
    await assert.rejects(startIdentity(config({ identityIssuerFiles: files }), quietLog()), /identity with file discovery needs --identity-token-key/);
  });
});

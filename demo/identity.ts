// The local mesh's identity material, made fresh for every `npm start`: a trust anchor and an issuer
// (as `sluice identity generate` writes them) for the controller, the key of local-mesh tokens, and
// one token per pod's service account, which the controller's Identity service accepts as Kubernetes'
// projected service-account tokens are accepted in a cluster. Each proxy then asks for its own
// certificate (`<app>.emojivoto.serviceaccount.identity.sluice.cluster.local`) and is ready once it
// holds one. Everything lives in a private temporary directory, removed when the demo stops.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../src/api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../src/control/identity/local-token.ts';
import { certificatesToPem, createIssuer, createTrustAnchor, privateKeyToPem } from '../src/control/identity/pki.ts';

export interface DemoIdentity {
  readonly dir: string;
  /** Controller flags: issuer files, anchors, token key. */
  readonly controllerArgs: readonly string[];
  readonly anchorsPem: string;
  /** The name proxies verify the Identity service by. */
  readonly controllerName: string;
  /** Each service account's identity name and token file. */
  proxy(serviceAccount: string, namespace: string): { readonly name: string; readonly tokenFile: string };
  remove(): void;
}

export async function prepareDemoIdentity(): Promise<DemoIdentity> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-demo-identity-'));
  const write = (file: string, text: string, secret = false): string => {
    const full = path.join(dir, file);
    writeFileSync(full, text, { mode: secret ? 0o600 : 0o644 });
    if (secret) chmodSync(full, 0o600);
    return full;
  };
  const anchor = await createTrustAnchor();
  const issuer = await createIssuer(anchor);
  const anchorsPem = certificatesToPem([anchor.certificate]);
  const key = generateTokenKey();
  const anchors = write('ca.crt', anchorsPem);
  const issuerCert = write('issuer.crt', certificatesToPem([issuer.certificate]));
  const issuerKey = write('issuer.key', await privateKeyToPem(issuer.privateKey), true);
  const tokenKey = write('token.key', formatTokenKey(key), true);
  return {
    dir,
    controllerArgs: [
      `--identity-issuer-cert=${issuerCert}`,
      `--identity-issuer-key=${issuerKey}`,
      `--identity-trust-anchors=${anchors}`,
      `--identity-token-key=${tokenKey}`,
    ],
    anchorsPem,
    controllerName: controllerIdentityName(DEFAULT_IDENTITY_DOMAIN),
    proxy: (serviceAccount, namespace) => {
      const account = { serviceAccount, namespace };
      const tokenFile = write(`${serviceAccount}.${namespace}.token`, createLocalToken(key, account), true);
      return { name: identityName(account, DEFAULT_IDENTITY_DOMAIN), tokenFile };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

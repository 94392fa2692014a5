// Identity material for the benchmark's mTLS targets (sluice-mesh-2-mtls, the handshake section): a
// fresh trust anchor and issuer for the controller's Identity service, the key of local-mesh tokens and
// one token per proxy's service account — what `npm start` does (demo/identity.ts), but written into the
// target's own scratch directory so that nothing outlives the run. Proxies then get their certificates
// from the controller through Certify, as in a pod. The handshake client, which is not a proxy, gets a
// leaf signed by the same issuer directly (it measures the inbound proxy, not Certify).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../../src/api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../../src/control/identity/local-token.ts';
import {
  certificatesToPem,
  createIssuer,
  createTrustAnchor,
  generateKeyPair,
  issueLeaf,
  privateKeyToPem,
  type CaCredential,
} from '../../src/control/identity/pki.ts';
import { MESH_NAMESPACE, MESH_SERVICE } from './mesh.ts';

/** The identity the discovery file gives the Service's endpoint (service account `backend` in `perf`): proxy B's. */
export const SERVER_IDENTITY = identityName({ serviceAccount: MESH_SERVICE, namespace: MESH_NAMESPACE }, DEFAULT_IDENTITY_DOMAIN);
/** Proxy A's (the client pod's service account). */
export const CLIENT_IDENTITY = identityName({ serviceAccount: 'perf-client', namespace: MESH_NAMESPACE }, DEFAULT_IDENTITY_DOMAIN);

export interface MeshIdentity {
  /** Flags for sluice-controller: issuer files, anchors, token key (with `--identity-addr` of the caller's choice). */
  readonly controllerArgs: readonly string[];
  readonly anchorsPem: string;
  /** The anchors as a file, for TLS clients. */
  readonly anchorsFile: string;
  /**
   * SLUICE_PROXY_IDENTITY_* for a proxy of `serviceAccount` (namespace perf) asking the Identity service at
   * `identityAddr` (`host:port`), as the injector sets them.
   */
  proxyEnv(serviceAccount: string, identityAddr: string): Record<string, string>;
  /** A leaf for `name` signed by the issuer (leaf + issuer chain, PKCS#8 key), written as PEM files. */
  clientLeaf(name: string): Promise<{ certFile: string; keyFile: string }>;
}

/** Makes the material under `dir` (created if needed); keys and tokens are written 0600. */
export async function prepareMeshIdentity(dir: string): Promise<MeshIdentity> {
  mkdirSync(dir, { recursive: true });
  const write = (file: string, text: string, secret = false): string => {
    const full = join(dir, file);
    writeFileSync(full, text, { mode: secret ? 0o600 : 0o644 });
    return full;
  };
  const anchor = await createTrustAnchor();
  const issuer: CaCredential = await createIssuer(anchor);
  const anchorsPem = certificatesToPem([anchor.certificate]);
  const tokenKey = generateTokenKey();
  const anchorsFile = write('ca.crt', anchorsPem);
  const issuerCert = write('issuer.crt', certificatesToPem([issuer.certificate]));
  const issuerKey = write('issuer.key', await privateKeyToPem(issuer.privateKey), true);
  const tokenKeyFile = write('token.key', formatTokenKey(tokenKey), true);
  return {
    controllerArgs: [
      '--identity-issuer-cert',
      issuerCert,
      '--identity-issuer-key',
      issuerKey,
      '--identity-trust-anchors',
      anchorsFile,
      '--identity-token-key',
      tokenKeyFile,
    ],
    anchorsPem,
    anchorsFile,
    proxyEnv(serviceAccount, identityAddr) {
      const account = { serviceAccount, namespace: MESH_NAMESPACE };
      const tokenFile = write(`${serviceAccount}.${MESH_NAMESPACE}.token`, createLocalToken(tokenKey, account), true);
      const endEntity = join(dir, `${serviceAccount}-end-entity`);
      mkdirSync(endEntity, { recursive: true });
      return {
        SLUICE_PROXY_IDENTITY_DIR: endEntity,
        SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: anchorsPem,
        SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
        SLUICE_PROXY_IDENTITY_LOCAL_NAME: identityName(account, DEFAULT_IDENTITY_DOMAIN),
        SLUICE_PROXY_IDENTITY_SVC_ADDR: identityAddr,
        SLUICE_PROXY_IDENTITY_SVC_NAME: controllerIdentityName(DEFAULT_IDENTITY_DOMAIN),
      };
    },
    async clientLeaf(name) {
      const keys = await generateKeyPair();
      const leaf = await issueLeaf(issuer, { identity: name, publicKey: keys.publicKey });
      const base = name.split('.')[0] ?? 'client';
      return {
        certFile: write(`${base}-client.crt`, certificatesToPem([leaf, issuer.certificate])),
        keyFile: write(`${base}-client.key`, await privateKeyToPem(keys.privateKey), true),
      };
    },
  };
}

// The identity side of the mTLS end-to-end test (mtls.test.ts), in files the other uids can read:
// a trust anchor and an issuer made with the project's PKI (src/control/identity/pki.ts) for the
// controller, the key of local-mesh tokens and one token per pod's service account (as `npm start`
// gives its proxies theirs), and the forged credentials the refusal tests present: a certificate from
// the mesh's own issuer for another identity, an expired one, and one from another trust anchor.
//
// Also the discovery file of that test: the Services of mesh-services.ts plus one Service per
// impostor, each of whose endpoints Destination says is the server pod (so it must prove the server
// pod's identity), while a TLS server of the test's own answers there with a forged certificate.
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN } from '../../src/api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../../src/control/identity/local-token.ts';
import { certificatesToPem, privateKeyToPem } from '../../src/control/identity/pki.ts';
import { identityName, leafIdentity, testPki, type TestPki } from '../../src/workers/proxy/mesh-tls.testkit.ts';
import type { LocalIdentity } from '../../src/workers/transport/local-identity.ts';
import { APP_POD, E2E_NAMESPACE, meshDiscoveryFile, SERVER_POD, type MeshService } from './mesh-services.ts';

/** The identities the controller issues to the two pods' proxies (their service accounts in `e2e`). */
export const SERVER_IDENTITY = identityName(SERVER_POD.serviceAccount, E2E_NAMESPACE);
export const APP_IDENTITY = identityName(APP_POD.serviceAccount, E2E_NAMESPACE);
/** The controller's Identity port, as in a cluster. */
export const IDENTITY_PORT = 8080;

/** How an impostor lies, and the error kind the outbound proxy must answer with (core/errors.ts). */
export type Forgery = 'wrong_identity' | 'expired' | 'untrusted';
export const FORGERY_ERROR: Readonly<Record<Forgery, 'tls_wrong_identity' | 'tls_expired' | 'tls_untrusted'>> = {
  wrong_identity: 'tls_wrong_identity',
  expired: 'tls_expired',
  untrusted: 'tls_untrusted',
};

/** An impostor's Service: clients call `clusterIP:80`; Destination sends them to the server pod at `targetPort`. */
export interface ImpostorService {
  readonly forgery: Forgery;
  readonly name: string;
  readonly clusterIP: string;
  readonly port: number;
  readonly targetPort: number;
}

export const IMPOSTORS: readonly ImpostorService[] = [
  { forgery: 'wrong_identity', name: 'impostor-wrong-identity', clusterIP: '10.231.88.20', port: 80, targetPort: 19441 },
  { forgery: 'expired', name: 'impostor-expired', clusterIP: '10.231.88.21', port: 80, targetPort: 19442 },
  { forgery: 'untrusted', name: 'impostor-untrusted', clusterIP: '10.231.88.22', port: 80, targetPort: 19443 },
];

/** mesh-services.ts's discovery file with the impostors' Services added, their endpoint the server pod. */
export function mtlsDiscoveryFile(services: readonly MeshService[], serverIp: string, appIp: string): string {
  const file = parse(meshDiscoveryFile(services, serverIp, appIp)) as { namespaces: Record<string, { services: Record<string, unknown> }> };
  const namespace = file.namespaces[E2E_NAMESPACE];
  if (namespace === undefined) throw new Error(`the discovery file has no namespace ${E2E_NAMESPACE}`);
  for (const s of IMPOSTORS) namespace.services[s.name] = { clusterIP: s.clusterIP, ports: [`${s.port}:${s.targetPort}`], endpoints: [{ pod: SERVER_POD.name }] };
  return `# Written by test/e2e/mtls-mesh.ts for the mTLS end-to-end test.\n${stringify(file)}`;
}

/** A certificate chain and its key, as files. */
export interface CredentialFiles {
  readonly cert: string;
  readonly key: string;
}

export interface MeshIdentity {
  readonly pki: TestPki;
  readonly anchorsPem: string;
  /** World-readable: clients outside the mesh verify with it too. */
  readonly anchorsFile: string;
  /** What the proxies verify the Identity service by. */
  readonly controllerName: string;
  /** Flags that give the controller the issuer, the anchors and the token key. */
  readonly controllerArgs: readonly string[];
  /** Writes a local-mesh token for `serviceAccount` in `e2e`, readable by `uid` only. */
  token(serviceAccount: string, uid: number): string;
  /** Writes a credential world-readable (test keys, for the impostors and peers that run as other uids). */
  credential(label: string, identity: LocalIdentity): Promise<CredentialFiles>;
  /** The forged server certificates, for the server pod's identity or (wrong_identity) the app's. */
  forged(forgery: Forgery, name?: string): Promise<LocalIdentity>;
}

/** Makes the material in `dir` (which must be world-traversable); secrets belong to the uid that reads them. */
export async function prepareMeshIdentity(dir: string, controllerUid: number): Promise<MeshIdentity> {
  const write = (file: string, text: string, owner?: number): string => {
    const full = join(dir, file);
    writeFileSync(full, text, { mode: owner === undefined ? 0o644 : 0o600 });
    if (owner !== undefined) {
      chownSync(full, owner, owner);
      chmodSync(full, 0o600);
    }
    return full;
  };
  const pki = await testPki();
  const anchorsPem = certificatesToPem([pki.anchor.certificate]);
  const anchorsFile = write('ca.crt', anchorsPem);
  const tokenKey = generateTokenKey();
  const controllerArgs = [
    `--identity-issuer-cert=${write('issuer.crt', certificatesToPem([pki.issuer.certificate]), controllerUid)}`,
    `--identity-issuer-key=${write('issuer.key', await privateKeyToPem(pki.issuer.privateKey), controllerUid)}`,
    `--identity-trust-anchors=${write('anchors.crt', anchorsPem, controllerUid)}`,
    `--identity-token-key=${write('token.key', formatTokenKey(tokenKey), controllerUid)}`,
  ];
  let otherPki: TestPki | undefined;
  return {
    pki,
    anchorsPem,
    anchorsFile,
    controllerName: controllerIdentityName(DEFAULT_IDENTITY_DOMAIN),
    controllerArgs,
    token: (serviceAccount, uid) => write(`${serviceAccount}.token`, createLocalToken(tokenKey, { serviceAccount, namespace: E2E_NAMESPACE }), uid),
    credential: async (label, identity) => ({ cert: write(`${label}.crt`, identity.certChainPem), key: write(`${label}.key`, identity.keyPem) }),
    forged: async (forgery, name = SERVER_IDENTITY) => {
      switch (forgery) {
        case 'wrong_identity':
          // Genuine, from the mesh's own issuer: only the name is not the one Destination promised.
          return leafIdentity(pki, name === SERVER_IDENTITY ? APP_IDENTITY : name);
        case 'expired':
          // Valid from three hours ago for one hour.
          return leafIdentity(pki, name, { now: new Date(Date.now() - 3 * 3600_000), lifetimeMs: 3600_000 });
        case 'untrusted':
          otherPki ??= await testPki();
          return leafIdentity(otherPki, name, { trust: [pki.anchor] });
      }
    },
  };
}

// The proxy's key and certificate signing request, made once at start and kept in memory for the life
// of the process (as Linkerd's proxy does): every renewal sends the same CSR, so the key never has to
// be written anywhere and a renewed certificate always matches the key the workers already hold.
//
// ECDSA P-256 with SHA-256, what the Identity service accepts; the CSR carries exactly one DNS SAN,
// the local identity, and the same name as CN (Linkerd accepts an empty CN or the identity).
import { webcrypto } from 'node:crypto';

const SIGNING = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface LocalKey {
  /** The private key as PKCS#8 PEM, for the workers' TLS contexts. */
  readonly keyPem: string;
  /** DER PKCS#10 for `identity`, signed with the key. */
  readonly csrDer: Uint8Array;
}

/** A fresh P-256 key and a CSR naming `identity`; @peculiar/x509 is loaded only here, on first use. */
export async function createLocalKey(identity: string): Promise<LocalKey> {
  const x509 = await import('../../api/x509.ts');
  // Extractable once, to hand the key to the workers as PEM (they build TLS contexts from it).
  const keys = await webcrypto.subtle.generateKey(SIGNING, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${identity}`,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: identity }])],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`, csrDer: new Uint8Array(csr.rawData) };
}

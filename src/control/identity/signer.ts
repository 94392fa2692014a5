// Where leaf certificates are signed. The inline signer builds the certificate on the controller's
// thread; the ECDSA signature itself is computed by WebCrypto on Node's thread pool, so what runs on
// the event loop is the ASN.1 encoding (measured in perf/identity-burst.ts).
import type { LoadedIssuer } from './issuer.ts';
import { issueLeaf, type Certificate } from './pki.ts';
import type * as x509 from './x509.ts';

export interface SignRequest {
  readonly identity: string;
  readonly publicKey: x509.PublicKey;
  readonly lifetimeMs: number;
  readonly now: Date;
}

export interface Signer {
  sign(issuer: LoadedIssuer, request: SignRequest): Promise<Certificate>;
  close(): Promise<void>;
}

export class InlineSigner implements Signer {
  sign(issuer: LoadedIssuer, request: SignRequest): Promise<Certificate> {
    return issueLeaf(issuer.credential, request);
  }

  async close(): Promise<void> {}
}

// A piscina worker of the WorkerSigner (signer.ts): checks CSRs and signs leaves with the same code
// the inline signer runs, and answers with plain data (errors included: a thrown CertifyError would
// lose its status code crossing the thread boundary).
import { issueLeaf, type CaCredential } from './pki.ts';
import { CertifyError, checkCsr } from './request.ts';
import * as x509 from './x509.ts';

/** The issuer as it crosses to a worker; `id` changes whenever the controller's issuer does. */
export interface WireIssuer {
  readonly id: number;
  readonly certificate: Uint8Array;
  readonly key: Uint8Array;
}

export type SignerTask =
  | { readonly kind: 'check'; readonly csr: Uint8Array; readonly identity: string }
  | {
      readonly kind: 'sign';
      readonly issuer: WireIssuer;
      readonly publicKey: Uint8Array;
      readonly identity: string;
      readonly lifetimeMs: number;
      readonly nowMs: number;
    };

export interface CertifyFailure {
  readonly code: number;
  readonly message: string;
}

export type SignerTaskResult =
  | { readonly publicKey: Uint8Array }
  | { readonly der: Uint8Array; readonly notAfterMs: number }
  | { readonly failure: CertifyFailure };

/** The issuers this worker has imported, newest last; two cover a rotation in flight. */
const issuers: Array<{ id: number; credential: Promise<CaCredential> }> = [];

function issuerOf(wire: WireIssuer): Promise<CaCredential> {
  const known = issuers.find((i) => i.id === wire.id);
  if (known !== undefined) return known.credential;
  const credential = crypto.subtle
    .importKey('pkcs8', wire.key, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
    .then((privateKey) => ({ certificate: new x509.X509Certificate(wire.certificate), chain: [], privateKey }));
  issuers.push({ id: wire.id, credential });
  if (issuers.length > 2) issuers.shift();
  return credential;
}

export default async function run(task: SignerTask): Promise<SignerTaskResult> {
  try {
    if (task.kind === 'check') {
      return { publicKey: new Uint8Array((await checkCsr(task.csr, task.identity)).rawData) };
    }
    const leaf = await issueLeaf(await issuerOf(task.issuer), {
      identity: task.identity,
      publicKey: new x509.PublicKey(task.publicKey),
      lifetimeMs: task.lifetimeMs,
      now: new Date(task.nowMs),
    });
    return { der: new Uint8Array(leaf.rawData), notAfterMs: leaf.notAfter.getTime() };
  } catch (error) {
    if (error instanceof CertifyError) return { failure: { code: error.code, message: error.message } };
    throw error;
  }
}

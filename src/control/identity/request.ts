// Checks a Certify request before anyone is asked about its token: the fields are present, the CSR
// parses, is self-signed by an ECDSA P-256 key, and names exactly the identity asked for.
//
// Status codes follow Linkerd's identity service: a request that is malformed (missing field, CSR
// that does not parse) is INVALID_ARGUMENT; a well-formed CSR that asks for something other than the
// requested identity is FAILED_PRECONDITION. Sluice adds two checks Linkerd leaves to later steps,
// both INVALID_ARGUMENT because the request itself is wrong: the CSR's signature (proof that the
// caller holds the key it wants certified) and the form of the identity name.
import { status } from '@grpc/grpc-js';
import { parseIdentityName, type IdentityDomain, type ServiceAccountRef } from '../../api/identity-name.ts';
import * as x509 from './x509.ts';

export class CertifyError extends Error {
  override name = 'CertifyError';
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}

const invalid = (message: string): CertifyError => new CertifyError(status.INVALID_ARGUMENT, message);
const precondition = (message: string): CertifyError => new CertifyError(status.FAILED_PRECONDITION, message);

/** The request as it arrives from grpc-js (bytes as Buffers; absent fields undefined). */
export interface CertifyRequest {
  readonly identity?: string;
  readonly token?: Uint8Array;
  readonly certificate_signing_request?: Uint8Array;
}

export interface CheckedRequest {
  readonly identity: string;
  /** The service account the identity name stands for; the token must prove the same one. */
  readonly account: ServiceAccountRef;
  readonly token: Uint8Array;
  /** DER PKCS#10, not yet parsed: `checkCsr` does that work (off the event loop when a worker signs). */
  readonly csr: Uint8Array;
}

const SUBJECT_ALT_NAME = '2.5.29.17';

/** The cheap checks (fields present, identity of the right form); throws CertifyError. */
export function checkCertifyRequest(request: CertifyRequest, domain: IdentityDomain): CheckedRequest {
  const identity = request.identity ?? '';
  if (identity === '') throw invalid('missing identity');
  const token = request.token ?? new Uint8Array();
  if (token.length === 0) throw invalid('missing token');
  const csr = request.certificate_signing_request ?? new Uint8Array();
  if (csr.length === 0) throw invalid('missing certificate signing request');
  const account = parseIdentityName(identity, domain);
  if ('error' in account) throw invalid(account.error);
  return { identity, account, token, csr };
}

/**
 * Parses the CSR and checks it: self-signed by an ECDSA P-256 key and naming exactly `identity`.
 * Returns the key to certify; throws CertifyError.
 */
export async function checkCsr(der: Uint8Array, identity: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (error) {
    throw invalid(`certificate signing request does not parse: ${(error as Error).message}`);
  }
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw invalid(`CSR key must be ECDSA P-256 (got ${[algorithm.name, algorithm.namedCurve].filter(Boolean).join(' ')})`);
  }
  let signed = false;
  try {
    signed = await csr.verify();
  } catch {
    // A signature that cannot even be decoded is as bad as a wrong one.
  }
  if (!signed) throw invalid('CSR signature does not verify with its own key');
  checkCsrNames(csr, identity);
  return csr.publicKey;
}

/** Exactly one DNS SAN equal to the identity, no other SAN, and a CN that is empty or the identity. */
function checkCsrNames(csr: x509.Pkcs10CertificateRequest, identity: string): void {
  const names = csr
    .getExtensions(SUBJECT_ALT_NAME)
    .flatMap((extension) => (extension instanceof x509.SubjectAlternativeNameExtension ? extension.names.items : []));
  const dns = names.filter((n) => n.type === 'dns').map((n) => n.value);
  if (dns.length !== 1) throw precondition(`CSR must have exactly one DNSName (has ${dns.length})`);
  if (dns[0] !== identity) throw precondition(`CSR name does not match requested identity: csr=${dns[0]}; req=${identity}`);
  const others = names.filter((n) => n.type !== 'dns');
  if (others.length > 0) {
    throw precondition(`CSR must name no addresses other than its DNSName (has ${others.map((n) => `${n.type}:${n.value}`).join(', ')})`);
  }
  for (const commonName of csr.subjectName.getField('CN')) {
    if (commonName !== identity) throw precondition(`invalid CommonName: ${commonName}`);
  }
}

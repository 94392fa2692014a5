// `io.linkerd.proxy.identity.Identity/Certify`: checks the request, authenticates the token, and signs
// a leaf certificate for the identity the token proves — in that order, with Linkerd's status codes:
//   UNAVAILABLE          no issuer loaded yet (or the one loaded has expired)
//   INVALID_ARGUMENT     malformed request or CSR, malformed token
//   FAILED_PRECONDITION  CSR names something else, token not authentic, token proves another identity
//   INTERNAL             the token could not be checked (API server down) or signing failed
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log/logger.ts';
import type { LoadedIssuer } from './issuer.ts';
import { identityName, type IdentityDomain } from '../../api/identity-name.ts';
import type { Certificate } from './pki.ts';
import { CertifyError, checkCertifyRequest, type CertifyRequest } from './request.ts';
import type { SignedLeaf, Signer } from './signer.ts';
import type { TokenValidator } from './token.ts';

export interface CertifyResponse {
  readonly leaf_certificate: Buffer;
  readonly intermediate_certificates: Buffer[];
  readonly valid_until: { readonly seconds: number; readonly nanos: number };
}

export interface IdentityServiceOptions {
  /** The issuer in use at the time of each call (it may be replaced between calls). */
  readonly issuer: () => LoadedIssuer | undefined;
  readonly validator: TokenValidator;
  readonly signer: Signer;
  readonly domain: IdentityDomain;
  readonly leafLifetimeMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
}

const der = (certificate: Certificate): Buffer => Buffer.from(certificate.rawData);

export class IdentityService {
  private readonly options: IdentityServiceOptions;
  private readonly now: () => Date;

  constructor(options: IdentityServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** One Certify call; throws CertifyError carrying the status code to answer with. */
  async certify(request: CertifyRequest): Promise<CertifyResponse> {
    const { log, validator, domain } = this.options;
    const issuer = this.options.issuer();
    if (issuer === undefined) throw new CertifyError(grpc.status.UNAVAILABLE, 'cert issuer not ready yet');
    const now = this.now();
    if (now > issuer.credential.certificate.notAfter) {
      throw new CertifyError(grpc.status.UNAVAILABLE, `cert issuer expired at ${issuer.credential.certificate.notAfter.toISOString()}`);
    }
    const checked = checkCertifyRequest(request, domain);
    // As Linkerd, the CSR is judged before the token: a bad request never costs a TokenReview.
    const publicKey = await this.options.signer.checkCsr(checked.csr, checked.identity);

    let verdict;
    try {
      verdict = await validator.validate(checked.token);
    } catch (error) {
      log.error('cannot validate token', { identity: checked.identity, validator: validator.kind, error: (error as Error).message });
      throw new CertifyError(grpc.status.INTERNAL, `error validating token for ${checked.identity}: ${(error as Error).message}`);
    }
    switch (verdict.kind) {
      case 'invalid':
        log.debug('invalid token', { identity: checked.identity, reason: verdict.reason });
        throw new CertifyError(grpc.status.INVALID_ARGUMENT, verdict.reason);
      case 'unauthenticated':
        log.info('authentication failed', { identity: checked.identity, reason: verdict.reason });
        throw new CertifyError(grpc.status.FAILED_PRECONDITION, verdict.reason);
      case 'authenticated':
        break;
    }
    const proven = identityName(verdict.account, domain);
    if (proven !== checked.identity) {
      throw new CertifyError(
        grpc.status.FAILED_PRECONDITION,
        `requested identity did not match provided token: requested=${checked.identity}; found=${proven}`,
      );
    }

    let leaf: SignedLeaf;
    try {
      leaf = await this.options.signer.sign(issuer, publicKey, { identity: proven, lifetimeMs: this.options.leafLifetimeMs, now });
    } catch (error) {
      log.error('cannot issue certificate', { identity: proven, error: (error as Error).message });
      throw new CertifyError(grpc.status.INTERNAL, `could not issue certificate: ${(error as Error).message}`);
    }
    log.info('certified', { identity: proven, validUntil: leaf.notAfter.toISOString() });
    const validUntilMs = leaf.notAfter.getTime();
    return {
      leaf_certificate: Buffer.from(leaf.der),
      intermediate_certificates: [issuer.credential.certificate, ...issuer.credential.chain].map(der),
      valid_until: { seconds: Math.floor(validUntilMs / 1000), nanos: (validUntilMs % 1000) * 1e6 },
    };
  }

  implementation(): grpc.UntypedServiceImplementation {
    return {
      Certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, callback: grpc.sendUnaryData<CertifyResponse>) => {
        this.certify(call.request).then(
          (response) => callback(null, response),
          (error: unknown) => {
            if (error instanceof CertifyError) {
              callback({ code: error.code, details: error.message });
              return;
            }
            this.options.log.error('certify failed', { error: (error as Error).message });
            callback({ code: grpc.status.INTERNAL, details: 'internal error' });
          },
        );
      },
    };
  }
}

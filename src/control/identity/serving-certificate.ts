// The controller's own TLS certificate for the Identity service. Proxies call Certify before they hold
// any certificate, so they cannot authenticate themselves, but they must know they talk to the real
// controller (else a spoofed service could hand them certificates and learn their tokens): they check
// the server's chain against the trust anchors and its name against SLUICE_PROXY_IDENTITY_SVC_NAME.
//
// The controller issues itself that certificate from the issuer it holds, for its own identity
// `sluice-controller.<cp-ns>.serviceaccount.identity.<cp-ns>.<trust-domain>`, with a fresh key and the
// issuance lifetime of proxies' certificates; it renews at 70 % of the lifetime and whenever the issuer
// changes, and hands each to grpc-js as a certificate provider, so the listening server switches
// without a restart. The same certificate is the client certificate of the tap relay (current()). Before there is an issuer there is no certificate and TLS handshakes fail, as
// Certify would answer UNAVAILABLE anyway.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log/logger.ts';
import type { ControllerCertificate } from '../context.ts';
import type { IssuerHolder, LoadedIssuer } from './issuer.ts';
import { certificatesToPem, generateKeyPair, issueLeaf, privateKeyToPem } from './pki.ts';

type CertificateProvider = grpc.experimental.CertificateProvider;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityUpdate = grpc.experimental.IdentityCertificateUpdate;
type CaUpdate = grpc.experimental.CaCertificateUpdate;

export const RENEW_FRACTION = 0.7;
/** A renewal that failed is tried again this much later. */
const RETRY_MS = 10_000;

export interface ServingCertificateOptions {
  readonly holder: IssuerHolder;
  /** The controller's identity name (SAN and CN). */
  readonly identity: string;
  readonly lifetimeMs: number;
  readonly log: Logger;
}

export class ServingCertificate implements CertificateProvider {
  private readonly options: ServingCertificateOptions;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private identityUpdate: IdentityUpdate | null = null;
  private caUpdate: CaUpdate | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private issuedFrom: LoadedIssuer | undefined;
  /** The certificate being served: its not-after, for tests and logs. */
  notAfter: Date | undefined;

  constructor(options: ServingCertificateOptions) {
    this.options = options;
  }

  /** Issues the first certificate (when an issuer is loaded) and follows the issuer from then on. */
  async start(): Promise<void> {
    this.options.holder.onChange(() => void this.renew());
    await this.renew();
  }

  /** A new key and certificate from the current issuer; pushed to the server's TLS context. */
  async renew(): Promise<void> {
    const { holder, identity, lifetimeMs, log } = this.options;
    const issuer = holder.current;
    if (this.closed || issuer === undefined) return;
    clearTimeout(this.timer);
    if (issuer.credential.certificate.notAfter.getTime() <= Date.now()) {
      // A certificate from it would be born expired; Certify answers UNAVAILABLE until a new issuer comes.
      log.warn('the issuer has expired; the identity service keeps its current certificate', { identity, retryInMs: RETRY_MS });
      this.schedule(RETRY_MS);
      return;
    }
    try {
      const keys = await generateKeyPair();
      const leaf = await issueLeaf(issuer.credential, { identity, publicKey: keys.publicKey, lifetimeMs });
      this.identityUpdate = {
        certificate: Buffer.from(certificatesToPem([leaf, issuer.credential.certificate, ...issuer.credential.chain])),
        privateKey: Buffer.from(await privateKeyToPem(keys.privateKey)),
      };
      this.caUpdate = { caCertificate: Buffer.from(certificatesToPem(issuer.anchors)) };
      this.issuedFrom = issuer;
      this.notAfter = leaf.notAfter;
      for (const listener of this.caListeners) listener(this.caUpdate);
      for (const listener of this.identityListeners) listener(this.identityUpdate);
      const renewInMs = Math.max(1000, Math.round((leaf.notAfter.getTime() - Date.now()) * RENEW_FRACTION));
      log.info('identity service certificate issued', { identity, validUntil: leaf.notAfter.toISOString(), renewInMs });
      this.schedule(renewInMs);
    } catch (error) {
      log.error('cannot issue the identity service\'s own certificate; retrying', { identity, error: (error as Error).message, retryInMs: RETRY_MS });
      this.schedule(RETRY_MS);
    }
  }

  /** The certificate being served, as PEM (undefined before the first): the tap relay presents it to proxies. */
  current(): ControllerCertificate | undefined {
    if (this.identityUpdate === null || this.caUpdate === null) return undefined;
    return {
      name: this.options.identity,
      certChainPem: this.identityUpdate.certificate.toString('utf8'),
      keyPem: this.identityUpdate.privateKey.toString('utf8'),
      trustAnchorsPem: this.caUpdate.caCertificate.toString('utf8'),
    };
  }

  /** The issuer the current certificate came from (undefined before the first). */
  get issuer(): LoadedIssuer | undefined {
    return this.issuedFrom;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.renew(), delayMs);
    this.timer.unref();
  }

  // grpc-js subscribes before it registers the server that listens for the result, so an update
  // delivered during the call would be lost: the current certificate follows a moment later.
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityUpdate !== null && this.identityListeners.has(listener)) listener(this.identityUpdate);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caUpdate !== null && this.caListeners.has(listener)) listener(this.caUpdate);
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
}

/**
 * Server credentials serving `provider`'s certificate. Client certificates are not asked for in
 * effect: a proxy calling Certify has none yet, and its token is what authenticates it.
 */
export function servingCredentials(provider: ServingCertificate): grpc.ServerCredentials {
  // grpc-js 1.14 passes this function's arguments to the credentials' constructor in the other order
  // (identity first, CA second) than its declaration names them; giving the same provider for both
  // serves our certificate whichever way round a release takes them. With a CA provider the server
  // asks for a client certificate but does not require one (the last argument).
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

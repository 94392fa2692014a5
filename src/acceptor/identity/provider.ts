// The proxy's own identity over time: certify at start, renew before expiry, retry with backoff when
// the Identity service refuses or cannot be reached, and tell the data plane about every certificate.
// The certificate in use stays in use while a renewal is failing (connections keep working until the
// old one expires); the proxy is ready from its first certificate on.
//
// The token file is read again before every call: Kubernetes rotates projected tokens, and a token
// that was fine at start may have expired by the first renewal.
import { readFile } from 'node:fs/promises';
import { backoffDelay, type BackoffConfig } from '../../core/backoff.ts';
import type { Logger } from '../../log/logger.ts';
import { labels, type FamilySnapshot } from '../../telemetry/metrics.ts';
import type { LocalIdentity } from '../../workers/transport/local-identity.ts';
import type { CertifyRequest, CertifyResponse } from './certify-client.ts';
import type { LocalKey } from './csr.ts';
import { refreshDelayMs } from './refresh.ts';
import { verifyLeaf } from './verify-leaf.ts';

export interface IdentityProviderOptions {
  readonly localName: string;
  readonly tokenFile: string;
  readonly trustAnchorsPem: string;
  readonly key: LocalKey;
  readonly certify: (request: CertifyRequest) => Promise<CertifyResponse>;
  /** Between failed attempts (the control plane's reconnect backoff). */
  readonly backoff: BackoffConfig;
  readonly log: Logger;
  readonly random?: () => number;
  readonly now?: () => number;
}

async function readToken(file: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read token file ${file}: ${(error as Error).message}`);
  }
  // Tokens are ASCII (a JWT, or a local-mesh token); a newline an editor added is not part of it.
  const token = text.trim();
  if (token === '') throw new Error(`token file ${file} is empty`);
  return Buffer.from(token);
}

export class IdentityProvider {
  private readonly options: IdentityProviderOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly listeners: Array<(identity: LocalIdentity) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;
  private identity: LocalIdentity | undefined;
  /** Certificates obtained since start, the first included (Linkerd's identity_cert_refresh_count). */
  private refreshes = 0;

  constructor(options: IdentityProviderOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** The certificate in use, or undefined until the first one arrived. */
  get current(): LocalIdentity | undefined {
    return this.identity;
  }

  /** Called with every new certificate (the first and each renewal). */
  onIdentity(listener: (identity: LocalIdentity) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    void this.attempt();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  metrics(): FamilySnapshot[] {
    const none = labels({});
    const expiry = this.identity === undefined ? [] : ([[none, Math.floor(this.identity.notAfterMs / 1000)]] as const);
    return [
      {
        name: 'identity_cert_expiration_timestamp_seconds',
        help: 'Time when this proxy\'s current certificate expires, in seconds since the epoch.',
        kind: 'gauge',
        series: [...expiry],
      },
      { name: 'identity_cert_refresh_count', help: 'Certificates this proxy obtained from the Identity service.', kind: 'counter', series: [[none, this.refreshes]] },
    ];
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.attempt(), delayMs);
    // The proxy lives as long as its listeners; a pending renewal must not hold up its exit.
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const { localName, log } = this.options;
    let identity: LocalIdentity;
    try {
      identity = await this.certifyOnce();
    } catch (error) {
      if (this.closed) return;
      const delay = backoffDelay(this.options.backoff, this.failures, this.random());
      this.failures++;
      const current = this.identity;
      log.warn(current === undefined ? 'cannot obtain a certificate; not ready; retrying' : 'cannot renew the certificate; still using the current one; retrying', {
        identity: localName,
        reason: (error as Error).message,
        attempt: this.failures,
        retryInMs: delay,
        ...(current === undefined ? {} : { currentValidUntil: new Date(current.notAfterMs).toISOString() }),
      });
      this.schedule(delay);
      return;
    }
    if (this.closed) return;
    this.failures = 0;
    this.refreshes++;
    this.identity = identity;
    const renewInMs = refreshDelayMs(identity.notAfterMs, this.now());
    log.info(this.refreshes === 1 ? 'certified: identity ready' : 'certificate renewed', {
      identity: localName,
      validUntil: new Date(identity.notAfterMs).toISOString(),
      renewInMs,
    });
    for (const listener of this.listeners) listener(identity);
    this.schedule(renewInMs);
  }

  private async certifyOnce(): Promise<LocalIdentity> {
    const { localName, key, trustAnchorsPem } = this.options;
    const token = await readToken(this.options.tokenFile);
    const response = await this.options.certify({ identity: localName, token, certificate_signing_request: key.csrDer });
    const leafDer = response.leaf_certificate;
    if (leafDer === undefined || leafDer.length === 0) throw new Error('the Identity service answered without a certificate');
    const verified = verifyLeaf({
      leafDer,
      intermediatesDer: response.intermediate_certificates ?? [],
      anchorsPem: trustAnchorsPem,
      identity: localName,
      keyPem: key.keyPem,
      nowMs: this.now(),
    });
    return { name: localName, certChainPem: verified.certChainPem, keyPem: key.keyPem, trustAnchorsPem, notAfterMs: verified.notAfterMs };
  }
}

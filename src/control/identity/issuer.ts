// The issuer the identity service signs with, and the rules for replacing it. Material (PEM text of
// the issuer's certificate chain, its key and the trust anchors) comes from files or a Kubernetes
// Secret and ConfigMap; whatever the source, it is parsed and checked here the same way.
//
// At start a bad issuer is fatal (IssuerRefusedError, whose message says which check failed): a
// controller that signs nothing useful should not look healthy. Later, a bad replacement is logged
// and the issuer in use stays, as Linkerd's identity does: rotating by hand must not take signing down.
import type { Logger } from '../../log/logger.ts';
import {
  checkIssuer,
  describeIssuerProblem,
  parseCertificatesPem,
  parsePrivateKeyPem,
  timeLeftMs,
  type CaCredential,
  type Certificate,
} from './pki.ts';

/** Below this, every load of the issuer also logs a warning to rotate it. */
const EXPIRY_WARNING_DAYS = 30;

export interface IssuerMaterial {
  /** PEM: the issuer's certificate first, then any intermediates up to (not including) an anchor. */
  readonly certificatePem: string;
  /** PEM private key of the issuer (PKCS#8 or SEC1). */
  readonly keyPem: string;
  /** PEM bundle of the trust anchors. */
  readonly anchorsPem: string;
  /** Where it came from, for messages: `files issuer.crt, issuer.key, ca.crt` or `Secret sluice/sluice-identity-issuer`. */
  readonly origin: string;
}

export interface LoadedIssuer {
  readonly credential: CaCredential;
  readonly anchors: readonly Certificate[];
  readonly origin: string;
}

export class IssuerRefusedError extends Error {
  override name = 'IssuerRefusedError';
}

async function parts(material: IssuerMaterial): Promise<LoadedIssuer> {
  const part = async <T>(what: string, parse: () => T | Promise<T>): Promise<T> => {
    try {
      return await parse();
    } catch (error) {
      throw new IssuerRefusedError(`${what}: ${(error as Error).message}`);
    }
  };
  const [certificate, ...chain] = await part('issuer certificate', () => parseCertificatesPem(material.certificatePem));
  const privateKey = await part('issuer key', () => parsePrivateKeyPem(material.keyPem));
  const anchors = await part('trust anchors', () => parseCertificatesPem(material.anchorsPem));
  return { credential: { certificate: certificate as Certificate, chain, privateKey }, anchors, origin: material.origin };
}

/** Parses and checks `material`; throws IssuerRefusedError saying what is wrong and where it came from. */
export async function loadIssuer(material: IssuerMaterial, now: Date = new Date()): Promise<LoadedIssuer> {
  try {
    const loaded = await parts(material);
    const problem = await checkIssuer(loaded.credential, loaded.anchors, now);
    if (problem !== undefined) throw new IssuerRefusedError(describeIssuerProblem(problem));
    return loaded;
  } catch (error) {
    if (error instanceof IssuerRefusedError) throw new IssuerRefusedError(`identity issuer (${material.origin}) refused: ${error.message}`);
    throw error;
  }
}

function sameMaterial(a: IssuerMaterial | undefined, b: IssuerMaterial): boolean {
  return a !== undefined && a.certificatePem === b.certificatePem && a.keyPem === b.keyPem && a.anchorsPem === b.anchorsPem;
}

/** The issuer in use; replaced only by one that passes every check. */
export class IssuerHolder {
  private loaded: LoadedIssuer | undefined;
  private lastMaterial: IssuerMaterial | undefined;
  /** The last material refused, so that the same bad files seen again are not checked and logged again. */
  private lastRefused: IssuerMaterial | undefined;
  private readonly log: Logger;
  /** Offers are applied one at a time, in order, so a slow check never lets an older material win. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly changeListeners: Array<(issuer: LoadedIssuer) => void> = [];

  constructor(log: Logger) {
    this.log = log;
  }

  get current(): LoadedIssuer | undefined {
    return this.loaded;
  }

  /** Called whenever a new issuer comes into use (the first one included). */
  onChange(listener: (issuer: LoadedIssuer) => void): void {
    this.changeListeners.push(listener);
  }

  /** The first issuer: throws IssuerRefusedError when it is unusable. */
  async start(material: IssuerMaterial): Promise<LoadedIssuer> {
    const loaded = await loadIssuer(material);
    this.use(loaded, material, 'identity issuer loaded');
    return loaded;
  }

  /**
   * A changed issuer (file rewritten, Secret updated). Unchanged material is ignored; bad material is
   * logged and the issuer in use stays. Resolves to whether the new issuer is now in use.
   */
  offer(material: IssuerMaterial): Promise<boolean> {
    const next = this.queue.then(() => this.apply(material));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(material: IssuerMaterial): Promise<boolean> {
    if (sameMaterial(this.lastMaterial, material) || sameMaterial(this.lastRefused, material)) return false;
    try {
      const loaded = await loadIssuer(material);
      this.use(loaded, material, this.loaded === undefined ? 'identity issuer loaded' : 'identity issuer updated');
      return true;
    } catch (error) {
      if (!(error instanceof IssuerRefusedError)) throw error;
      this.lastRefused = material;
      this.log.warn(this.loaded === undefined ? 'identity issuer refused; still no issuer' : 'identity issuer update skipped; keeping the current issuer', {
        reason: error.message,
        current: this.loaded?.credential.certificate.subject,
      });
      return false;
    }
  }

  private use(loaded: LoadedIssuer, material: IssuerMaterial, message: string): void {
    this.loaded = loaded;
    this.lastMaterial = material;
    this.lastRefused = undefined;
    const { certificate } = loaded.credential;
    const fields = { origin: loaded.origin, subject: certificate.subject, notAfter: certificate.notAfter.toISOString(), anchors: loaded.anchors.length };
    this.log.info(message, fields);
    const daysLeft = Math.floor(timeLeftMs(certificate) / 86_400_000);
    if (daysLeft < EXPIRY_WARNING_DAYS) this.log.warn(`identity issuer expires in ${daysLeft} days; rotate it (docs/identity.md)`, fields);
    for (const listener of this.changeListeners) listener(loaded);
  }
}

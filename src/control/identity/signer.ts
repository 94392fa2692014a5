// The CPU-heavy half of Certify: parsing and checking the CSR, and building and signing the leaf.
// Measured (perf/identity-burst.ts, docs/identity.md): the ECDSA signature itself is ~0.1 ms and
// runs on Node's crypto thread pool, but @peculiar/x509's ASN.1 work around it costs milliseconds of
// main-thread CPU per call, so 500 proxies restarting at once stalled the controller's event loop
// (p99 delay 250 ms+, max 0.4-4 s; with the pool: p99 5-16 ms). The worker signer does that work on a small piscina pool instead, and the
// controller's loop only moves bytes. The inline signer does the same work in-thread (tests, tools).
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { LoadedIssuer } from './issuer.ts';
import { issueLeaf } from './pki.ts';
import { CertifyError, checkCsr } from './request.ts';
import type { CertifyFailure, SignerTask, SignerTaskResult, WireIssuer } from './signer-worker.ts';
import * as x509 from './x509.ts';

export interface LeafRequest {
  readonly identity: string;
  readonly lifetimeMs: number;
  readonly now: Date;
}

export interface SignedLeaf {
  readonly der: Uint8Array;
  readonly notAfter: Date;
}

export interface Signer {
  /** Checks the CSR for `identity` (throws CertifyError); returns the key to certify as DER SPKI. */
  checkCsr(csr: Uint8Array, identity: string): Promise<Uint8Array>;
  /** A leaf for `request.identity` over `publicKey` (DER SPKI), signed by the issuer. */
  sign(issuer: LoadedIssuer, publicKey: Uint8Array, request: LeafRequest): Promise<SignedLeaf>;
  close(): Promise<void>;
}

export class InlineSigner implements Signer {
  async checkCsr(csr: Uint8Array, identity: string): Promise<Uint8Array> {
    return new Uint8Array((await checkCsr(csr, identity)).rawData);
  }

  async sign(issuer: LoadedIssuer, publicKey: Uint8Array, request: LeafRequest): Promise<SignedLeaf> {
    const leaf = await issueLeaf(issuer.credential, { ...request, publicKey: new x509.PublicKey(publicKey) });
    return { der: new Uint8Array(leaf.rawData), notAfter: leaf.notAfter };
  }

  async close(): Promise<void> {}
}

/**
 * The worker module beside this one, with this module's own extension: `.ts` when Node runs the
 * sources, `.js` in the built package (dist/), where no `.ts` file exists and the pool's first task
 * would fail with ERR_MODULE_NOT_FOUND (the built controller then exited on its first Certify).
 */
export function signerWorkerUrl(ownUrl: string): string {
  return new URL(`./signer-worker${ownUrl.endsWith('.js') ? '.js' : '.ts'}`, ownUrl).href;
}

/** Leave a core to the controller's own thread; beyond four, signing is never the bottleneck. */
const defaultThreads = (): number => Math.max(1, Math.min(4, availableParallelism() - 1));

export class WorkerSigner implements Signer {
  private readonly pool: Piscina<SignerTask, SignerTaskResult>;
  /** Each issuer crosses to the workers once as DER + PKCS#8; tasks name it by id. */
  private readonly wire = new WeakMap<LoadedIssuer, Promise<WireIssuer>>();
  private nextIssuerId = 1;

  constructor(threads = defaultThreads()) {
    this.pool = new Piscina<SignerTask, SignerTaskResult>({
      filename: signerWorkerUrl(import.meta.url),
      minThreads: 1,
      maxThreads: threads,
      // Idle threads go away between bursts; the first call of a burst starts one (tens of ms).
      idleTimeout: 60_000,
    });
  }

  async checkCsr(csr: Uint8Array, identity: string): Promise<Uint8Array> {
    const result = await this.pool.run({ kind: 'check', csr, identity });
    if ('failure' in result) throw failure(result.failure);
    return (result as { publicKey: Uint8Array }).publicKey;
  }

  async sign(issuer: LoadedIssuer, publicKey: Uint8Array, request: LeafRequest): Promise<SignedLeaf> {
    const result = await this.pool.run({
      kind: 'sign',
      issuer: await this.wireOf(issuer),
      publicKey,
      identity: request.identity,
      lifetimeMs: request.lifetimeMs,
      nowMs: request.now.getTime(),
    });
    if ('failure' in result) throw failure(result.failure);
    const signed = result as { der: Uint8Array; notAfterMs: number };
    return { der: signed.der, notAfter: new Date(signed.notAfterMs) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private wireOf(issuer: LoadedIssuer): Promise<WireIssuer> {
    let wire = this.wire.get(issuer);
    if (wire === undefined) {
      const id = this.nextIssuerId++;
      wire = crypto.subtle.exportKey('pkcs8', issuer.credential.privateKey).then((key) => ({
        id,
        certificate: new Uint8Array(issuer.credential.certificate.rawData),
        key: new Uint8Array(key),
      }));
      this.wire.set(issuer, wire);
    }
    return wire;
  }
}

function failure(f: CertifyFailure): CertifyError {
  return new CertifyError(f.code, f.message);
}

export type SignerKind = 'inline' | 'worker';

export function createSigner(kind: SignerKind): Signer {
  switch (kind) {
    case 'inline':
      return new InlineSigner();
    case 'worker':
      return new WorkerSigner();
  }
}

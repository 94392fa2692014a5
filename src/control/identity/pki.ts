// Sluice's PKI, as Linkerd's: a trust anchor (self-signed root CA) signs an issuer (intermediate CA);
// the controller's identity service holds the issuer and signs proxies' 24 h leaf certificates.
// All keys are ECDSA P-256 with SHA-256 signatures — what `linkerd install` generates, and what
// rustls/webpki on the Linkerd proxy and Go's crypto/x509 both verify.
//
// Certificates are built and parsed by @peculiar/x509 over WebCrypto (no hand-written ASN.1); keys
// are WebCrypto CryptoKeys, so signing runs in Node's crypto thread pool rather than on the caller's
// event loop. PEM in and out: certificates as `CERTIFICATE` blocks, private keys written as PKCS#8
// (`PRIVATE KEY`) and read as PKCS#8 or SEC1 (`EC PRIVATE KEY`, what `step certificate create` and
// `openssl ecparam -genkey` write), so users can bring their own issuer.
import { createPrivateKey, randomBytes, type webcrypto } from 'node:crypto';
import * as x509 from './x509.ts';

export type Certificate = x509.X509Certificate;
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const SIGNING_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

const HOUR_MS = 3600_000;
/** Anchors and issuers made by `sluice identity generate` live one year (as `linkerd install`'s). */
export const DEFAULT_CA_LIFETIME_MS = 365 * 24 * HOUR_MS;
/** Linkerd's issuance lifetime: short enough that a leaked key soon stops mattering. */
export const DEFAULT_LEAF_LIFETIME_MS = 24 * HOUR_MS;
/** Linkerd's clock-skew allowance: not-before is set this far in the past so a slightly slow peer accepts it. */
export const CLOCK_SKEW_MS = 20_000;

/** A certificate authority: its certificate, the certificates between it and an anchor, and its key. */
export interface CaCredential {
  readonly certificate: Certificate;
  /** Intermediates above `certificate`, nearest first, excluding the anchor (empty for a Sluice-made issuer). */
  readonly chain: readonly Certificate[];
  readonly privateKey: CryptoKey;
}

export class PkiError extends Error {
  override name = 'PkiError';
}

export interface NameParams {
  /** Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Default `sluice`. */
  readonly controlPlaneNamespace?: string;
}

/** `root.sluice.cluster.local`: the anchor's CN, as Linkerd's `root.linkerd.cluster.local`. */
export function trustAnchorName(params: NameParams = {}): string {
  return `root.${params.controlPlaneNamespace ?? 'sluice'}.${params.trustDomain ?? 'cluster.local'}`;
}

/** `identity.sluice.cluster.local`: the issuer's CN, as Linkerd's `identity.linkerd.cluster.local`. */
export function issuerName(params: NameParams = {}): string {
  return `identity.${params.controlPlaneNamespace ?? 'sluice'}.${params.trustDomain ?? 'cluster.local'}`;
}

/** An extractable P-256 key pair (extractable so that it can be written as PEM). */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(SIGNING_ALGORITHM, true, ['sign', 'verify']);
}

/** 128 random bits, positive (RFC 5280 allows up to 20 octets; the top bit cleared keeps it positive). */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

export interface CaParams extends NameParams {
  readonly lifetimeMs?: number;
  readonly now?: Date;
  /** Overrides the CN derived from the names. */
  readonly commonName?: string;
}

function caExtensions(pathLength: number): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

/** The authority key identifier of certificates `parent` signs: its own SKI when it has one. */
async function authorityKeyId(parent: Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = parent.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(parent.publicKey);
}

function validity(params: { lifetimeMs?: number; now?: Date }, fallbackMs: number): { notBefore: Date; notAfter: Date } {
  const now = params.now ?? new Date();
  const lifetimeMs = params.lifetimeMs ?? fallbackMs;
  if (!(lifetimeMs > 0)) throw new PkiError(`certificate lifetime must be positive (got ${lifetimeMs} ms)`);
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(now.getTime() + lifetimeMs) };
}

/** A new trust anchor: a self-signed root CA that may sign one level of CA below it (the issuer). */
export async function createTrustAnchor(params: CaParams = {}): Promise<CaCredential> {
  const keys = await generateKeyPair();
  const name = `CN=${params.commonName ?? trustAnchorName(params)}`;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: name,
    issuer: name,
    ...validity(params, DEFAULT_CA_LIFETIME_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [...caExtensions(1), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  return { certificate, chain: [], privateKey: keys.privateKey };
}

/** A new issuer signed by `anchor`: a CA that signs leaves only (path length 0). */
export async function createIssuer(anchor: CaCredential, params: CaParams = {}): Promise<CaCredential> {
  const keys = await generateKeyPair();
  const window = validity(params, DEFAULT_CA_LIFETIME_MS);
  // An issuer outliving its anchor would be rejected by verifiers once the anchor expires.
  if (window.notAfter > anchor.certificate.notAfter) window.notAfter = anchor.certificate.notAfter;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${params.commonName ?? issuerName(params)}`,
    issuer: anchor.certificate.subjectName,
    ...window,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: anchor.privateKey,
    extensions: [
      ...caExtensions(0),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyId(anchor.certificate),
    ],
  });
  return { certificate, chain: [], privateKey: keys.privateKey };
}

export interface LeafParams {
  /** The DNS-like identity, written as the only DNS SAN and as the CN. */
  readonly identity: string;
  readonly publicKey: x509.PublicKey | CryptoKey;
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

/**
 * An end-entity certificate for `identity`, signed by `issuer`: usable as TLS server and client
 * (mTLS both ways), not a CA. It never outlives the issuer.
 */
export async function issueLeaf(issuer: CaCredential, params: LeafParams): Promise<Certificate> {
  const window = validity(params, DEFAULT_LEAF_LIFETIME_MS);
  if (window.notAfter > issuer.certificate.notAfter) window.notAfter = issuer.certificate.notAfter;
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${params.identity}`,
    issuer: issuer.certificate.subjectName,
    ...window,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: params.publicKey,
    signingKey: issuer.privateKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: params.identity }]),
      await authorityKeyId(issuer.certificate),
    ],
  });
}

/** A CSR for `identity` (one DNS SAN, CN = identity), as a proxy sends it; signed with `keys`. */
export async function createCsr(identity: string, keys: CryptoKeyPair): Promise<x509.Pkcs10CertificateRequest> {
  return x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${identity}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: identity }])],
  });
}

// ---- PEM ----

interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

function pemBlocks(pem: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    blocks.push({ label: match[1] as string, der: Buffer.from((match[2] as string).replace(/\s+/g, ''), 'base64') });
  }
  return blocks;
}

/** Every CERTIFICATE block of `pem`, in order; throws naming the block that does not parse. */
export function parseCertificatesPem(pem: string): Certificate[] {
  const blocks = pemBlocks(pem).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new PkiError('no PEM CERTIFICATE block found');
  return blocks.map((block, index) => {
    try {
      return new x509.X509Certificate(block.der);
    } catch (error) {
      throw new PkiError(`certificate ${index + 1} of ${blocks.length} does not parse: ${(error as Error).message}`);
    }
  });
}

export function certificatesToPem(certificates: readonly Certificate[]): string {
  return certificates.map((c) => c.toString('pem')).join('\n') + '\n';
}

/** An ECDSA P-256 private key from PEM (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`), usable to sign. */
export async function parsePrivateKeyPem(pem: string): Promise<CryptoKey> {
  let key;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new PkiError(`private key does not parse (expected PEM PKCS#8 or EC PRIVATE KEY): ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new PkiError(`private key must be ECDSA P-256 (got ${key.asymmetricKeyType ?? 'unknown'}${curve !== undefined ? ` ${curve}` : ''})`);
  }
  return key.toCryptoKey(KEY_ALGORITHM, true, ['sign']);
}

/** PKCS#8 PEM of an extractable private key. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

// ---- validation ----

/** A CA certificate: basic constraints CA:TRUE and, when key usage is present, keyCertSign. */
export function isCa(certificate: Certificate): boolean {
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca) return false;
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  return usage === null || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/** Milliseconds until `certificate` expires (negative once it has). */
export function timeLeftMs(certificate: Certificate, now: Date = new Date()): number {
  return certificate.notAfter.getTime() - now.getTime();
}

export function isTimeValid(certificate: Certificate, now: Date = new Date()): boolean {
  return certificate.notBefore <= now && now <= certificate.notAfter;
}

/** Whether `child` names `parent` as its issuer and carries `parent`'s signature. */
export async function isSignedBy(child: Certificate, parent: Certificate): Promise<boolean> {
  if (child.issuer !== parent.subject) return false;
  try {
    return await child.verify({ publicKey: parent.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * Whether `certificate` chains to one of `anchors` through `intermediates` (each a CA, in its validity
 * window at `now`). Signatures are checked at every step; the anchors themselves are trusted as given.
 */
export async function chainsToAnchors(
  certificate: Certificate,
  intermediates: readonly Certificate[],
  anchors: readonly Certificate[],
  now: Date = new Date(),
): Promise<boolean> {
  let current = certificate;
  // Bounded by the number of intermediates: each step consumes one, so a loop in the chain ends.
  const unused = [...intermediates];
  for (;;) {
    for (const anchor of anchors) if (await isSignedBy(current, anchor)) return true;
    let next: Certificate | undefined;
    for (const candidate of unused) {
      if (isCa(candidate) && isTimeValid(candidate, now) && (await isSignedBy(current, candidate))) {
        next = candidate;
        break;
      }
    }
    if (next === undefined) return false;
    unused.splice(unused.indexOf(next), 1);
    current = next;
  }
}

/** Whether `privateKey` is the key of `certificate` (signs a probe and verifies it with the certificate). */
export async function keyMatchesCertificate(privateKey: CryptoKey, certificate: Certificate): Promise<boolean> {
  const probe = randomBytes(32);
  try {
    const signature = await crypto.subtle.sign(SIGNING_ALGORITHM, privateKey, probe);
    const publicKey = await certificate.publicKey.export(SIGNING_ALGORITHM, ['verify']);
    return await crypto.subtle.verify(SIGNING_ALGORITHM, publicKey, signature, probe);
  } catch {
    return false;
  }
}

/** Why an issuer cannot be used, one case per check, in the order they are made. */
export type IssuerProblem =
  | { readonly kind: 'not-ca'; readonly subject: string }
  | { readonly kind: 'expired'; readonly subject: string; readonly notAfter: Date }
  | { readonly kind: 'not-yet-valid'; readonly subject: string; readonly notBefore: Date }
  | { readonly kind: 'untrusted'; readonly subject: string; readonly anchors: readonly string[] }
  | { readonly kind: 'key-mismatch'; readonly subject: string };

/** The first reason `issuer` is unusable under `anchors` at `now`, or undefined when it is fine. */
export async function checkIssuer(
  issuer: CaCredential,
  anchors: readonly Certificate[],
  now: Date = new Date(),
): Promise<IssuerProblem | undefined> {
  const { certificate } = issuer;
  const subject = certificate.subject;
  if (!isCa(certificate)) return { kind: 'not-ca', subject };
  if (now > certificate.notAfter) return { kind: 'expired', subject, notAfter: certificate.notAfter };
  if (now < certificate.notBefore) return { kind: 'not-yet-valid', subject, notBefore: certificate.notBefore };
  if (!(await chainsToAnchors(certificate, issuer.chain, anchors, now))) {
    return { kind: 'untrusted', subject, anchors: anchors.map((a) => a.subject) };
  }
  if (!(await keyMatchesCertificate(issuer.privateKey, certificate))) return { kind: 'key-mismatch', subject };
  return undefined;
}

export function describeIssuerProblem(problem: IssuerProblem): string {
  switch (problem.kind) {
    case 'not-ca':
      return `issuer certificate "${problem.subject}" is not a CA (needs basic constraints CA:TRUE and key usage keyCertSign)`;
    case 'expired':
      return `issuer certificate "${problem.subject}" has expired (not after ${problem.notAfter.toISOString()})`;
    case 'not-yet-valid':
      return `issuer certificate "${problem.subject}" is not valid yet (not before ${problem.notBefore.toISOString()})`;
    case 'untrusted':
      return `issuer certificate "${problem.subject}" is not signed by the trust anchors (${problem.anchors.map((a) => `"${a}"`).join(', ') || 'none'})`;
    case 'key-mismatch':
      return `issuer key does not belong to issuer certificate "${problem.subject}"`;
  }
}

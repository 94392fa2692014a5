// The keys and certificates `sluice install` writes: the identity trust anchors and issuer (made here
// unless the user gives them, as for every upgrade) and the injector webhook's serving certificate and
// the CA that the API server trusts it by. All made and checked with the project's PKI
// (src/control/identity/pki.ts); nothing here writes ASN.1.
import { readFile } from 'node:fs/promises';
import {
  certificatesToPem,
  checkIssuer,
  createIssuer,
  createTrustAnchor,
  describeIssuerProblem,
  generateKeyPair,
  issueLeaf,
  parseCertificatesPem,
  parsePrivateKeyPem,
  privateKeyToPem,
  timeLeftMs,
} from '../control/identity/pki.ts';
import type { Values } from '../inject/values.ts';
import { SERVICES } from './names.ts';

export interface IdentityCredentials {
  /** One or more anchor certificates (PEM). */
  readonly anchorsPem: string;
  /** The issuer certificate, then any intermediates (PEM). */
  readonly issuerCertPem: string;
  readonly issuerKeyPem: string;
}

export interface WebhookCredentials {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IdentityFiles {
  readonly trustAnchors?: string | undefined;
  readonly issuerCertificate?: string | undefined;
  readonly issuerKey?: string | undefined;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/** A webhook certificate lives as long as an install usually does; `sluice install` again renews it. */
const WEBHOOK_LIFETIME_MS = 365 * 24 * 3600_000;

export async function generateIdentity(values: Values): Promise<IdentityCredentials> {
  const names = { trustDomain: values.identity.trustDomain, controlPlaneNamespace: values.controlPlaneNamespace };
  const anchor = await createTrustAnchor(names);
  const issuer = await createIssuer(anchor, names);
  return {
    anchorsPem: certificatesToPem([anchor.certificate]),
    issuerCertPem: certificatesToPem([issuer.certificate]),
    issuerKeyPem: await privateKeyToPem(issuer.privateKey),
  };
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CredentialsError(`cannot read the ${what} (${path}): ${(error as Error).message}`);
  }
}

/**
 * The identity credentials from the user's files (all three, or none for new ones), checked: the
 * issuer must be a CA that is valid now, chains to the anchors, and matches its key.
 */
export async function identityCredentials(values: Values, files: IdentityFiles, now = new Date()): Promise<IdentityCredentials> {
  const given = [files.trustAnchors, files.issuerCertificate, files.issuerKey].filter((f) => f !== undefined).length;
  if (given === 0) return generateIdentity(values);
  if (given !== 3) {
    throw new CredentialsError('--identity-trust-anchors-file, --identity-issuer-certificate-file and --identity-issuer-key-file go together: give all three or none');
  }
  const anchorsPem = await readPem(files.trustAnchors as string, 'trust anchors');
  const issuerCertPem = await readPem(files.issuerCertificate as string, 'issuer certificate');
  const issuerKeyPem = await readPem(files.issuerKey as string, 'issuer key');
  const parse = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (error) {
      throw new CredentialsError(`the ${what} is not valid PEM: ${(error as Error).message}`);
    }
  };
  const anchors = parse('trust anchors file', () => parseCertificatesPem(anchorsPem));
  const [issuer, ...chain] = parse('issuer certificate file', () => parseCertificatesPem(issuerCertPem));
  if (anchors.length === 0) throw new CredentialsError('the trust anchors file holds no certificate');
  if (issuer === undefined) throw new CredentialsError('the issuer certificate file holds no certificate');
  let privateKey;
  try {
    privateKey = await parsePrivateKeyPem(issuerKeyPem);
  } catch (error) {
    throw new CredentialsError(`the issuer key file is not a usable private key: ${(error as Error).message}`);
  }
  const problem = await checkIssuer({ certificate: issuer, chain, privateKey }, anchors, now);
  if (problem !== undefined) throw new CredentialsError(describeIssuerProblem(problem));
  const expired = anchors.find((a) => timeLeftMs(a, now) <= 0);
  if (expired !== undefined) throw new CredentialsError(`trust anchor "${expired.subject}" has expired (not after ${expired.notAfter.toISOString()})`);
  return { anchorsPem, issuerCertPem, issuerKeyPem };
}

/** The DNS name the API server calls the webhook by: `<service>.<namespace>.svc`. */
export function webhookServerName(values: Values): string {
  return `${SERVICES.injector.name}.${values.controlPlaneNamespace}.svc`;
}

/** A fresh CA and a serving certificate for the injector Service, signed by it. */
export async function generateWebhookCredentials(values: Values): Promise<WebhookCredentials> {
  const ca = await createTrustAnchor({ commonName: `webhook.${values.controlPlaneNamespace}.${values.identity.trustDomain}`, lifetimeMs: WEBHOOK_LIFETIME_MS });
  const keys = await generateKeyPair();
  const leaf = await issueLeaf(ca, { identity: webhookServerName(values), publicKey: keys.publicKey, lifetimeMs: WEBHOOK_LIFETIME_MS });
  return { caPem: certificatesToPem([ca.certificate]), certPem: certificatesToPem([leaf]), keyPem: await privateKeyToPem(keys.privateKey) };
}

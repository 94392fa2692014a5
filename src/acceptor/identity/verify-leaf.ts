// Checks a certificate the Identity service returned before the proxy uses it: a proxy that served a
// certificate peers then refuse (wrong name, foreign chain, another key) would fail every mesh
// connection instead of failing one Certify call, which it retries. Pure apart from the clock, and on
// node:crypto's X509Certificate only (no X.509 library on the proxy's hot start path).
//
//   - the leaf parses, is not a CA, and is within its validity window;
//   - its only subject alternative name is the DNS name asked for;
//   - it belongs to the key the proxy made (the CSR's key);
//   - it chains through the returned intermediates (each a CA in its window) to one of the anchors,
//     every signature checked.
import { createPrivateKey, X509Certificate } from 'node:crypto';

export class LeafRejectedError extends Error {
  override name = 'LeafRejectedError';
}

export interface VerifiedLeaf {
  /** The leaf first, then the intermediates, PEM. */
  readonly certChainPem: string;
  readonly notAfterMs: number;
}

export interface LeafToVerify {
  readonly leafDer: Uint8Array;
  readonly intermediatesDer: readonly Uint8Array[];
  readonly anchorsPem: string;
  readonly identity: string;
  readonly keyPem: string;
  readonly nowMs?: number;
}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch (error) {
    throw new LeafRejectedError(`${what} does not parse: ${(error as Error).message}`);
  }
}

function pemCertificates(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}

const inWindow = (certificate: X509Certificate, nowMs: number): boolean =>
  certificate.validFromDate.getTime() <= nowMs && nowMs <= certificate.validToDate.getTime();

/** Whether `child` names `parent` as issuer and carries its signature. */
function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function chainsToAnchors(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchors: readonly X509Certificate[], nowMs: number): boolean {
  let current = leaf;
  const unused = [...intermediates];
  // Each step consumes an intermediate, so a loop in the returned chain ends.
  for (;;) {
    if (anchors.some((anchor) => signedBy(current, anchor))) return true;
    const next = unused.find((candidate) => candidate.ca && inWindow(candidate, nowMs) && signedBy(current, candidate));
    if (next === undefined) return false;
    unused.splice(unused.indexOf(next), 1);
    current = next;
  }
}

/** The leaf's chain and expiry when every check holds; throws LeafRejectedError saying which failed. */
export function verifyLeaf(input: LeafToVerify): VerifiedLeaf {
  const nowMs = input.nowMs ?? Date.now();
  const leaf = parse(input.leafDer, 'leaf certificate');
  const intermediates = input.intermediatesDer.map((der, i) => parse(der, `intermediate certificate ${i + 1}`));
  if (leaf.ca) throw new LeafRejectedError(`leaf certificate "${leaf.subject}" is a CA`);
  if (!inWindow(leaf, nowMs)) {
    throw new LeafRejectedError(`leaf certificate is not valid now (valid ${leaf.validFromDate.toISOString()} to ${leaf.validToDate.toISOString()})`);
  }
  const names = (leaf.subjectAltName ?? '').split(', ').filter((n) => n !== '');
  if (names.length !== 1 || names[0] !== `DNS:${input.identity}`) {
    throw new LeafRejectedError(`leaf certificate names ${names.length === 0 ? 'nothing' : names.join(', ')}; expected only DNS:${input.identity}`);
  }
  if (!leaf.checkPrivateKey(createPrivateKey(input.keyPem))) {
    throw new LeafRejectedError('leaf certificate is not for the key this proxy generated');
  }
  const anchors = pemCertificates(input.anchorsPem);
  if (!chainsToAnchors(leaf, intermediates, anchors, nowMs)) {
    throw new LeafRejectedError(`leaf certificate (issuer "${leaf.issuer}") does not chain to the trust anchors (${anchors.map((a) => `"${a.subject}"`).join(', ')})`);
  }
  const certChainPem = [leaf, ...intermediates].map((c) => c.toString().trim()).join('\n') + '\n';
  return { certChainPem, notAfterMs: leaf.validToDate.getTime() };
}

// Who a mesh peer is, read from its certificate: the DNS names of its subjectAltName. Pure.
//
// A Sluice (or Linkerd) identity is a DNS-like name, the leaf's only DNS SAN. Both sides compare it
// exactly (case-insensitively, as DNS does) — never as a wildcard or a suffix: `*.ns.serviceaccount…`
// must not stand for every account of a namespace, and the CN is not looked at (RFC 6125 deprecates it).

/**
 * The `DNS:` entries of node:tls's `subjectaltname` text (`DNS:a, DNS:b, IP Address:…`), lower case.
 * Node quotes an entry whose value holds a comma or quote (`DNS:"a,b"`); such an entry cannot be a DNS
 * name and is skipped rather than half-read.
 */
export function dnsNames(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === '') return [];
  const names: string[] = [];
  for (const part of subjectAltName.split(', ')) {
    if (!part.startsWith('DNS:')) continue;
    const name = part.slice(4);
    if (name === '' || name.startsWith('"')) continue;
    names.push(name.toLowerCase());
  }
  return names;
}

/** The peer's identity: its one DNS SAN; undefined when it has none or several (not a mesh certificate). */
export function identityOf(subjectAltName: string | undefined): string | undefined {
  const names = dnsNames(subjectAltName);
  return names.length === 1 ? names[0] : undefined;
}

/** An error in node:tls's shape (`code` ERR_TLS_CERT_ALTNAME_INVALID) when the peer is not `expected`. */
export function checkPeerIdentity(expected: string, subjectAltName: string | undefined): Error | undefined {
  const names = dnsNames(subjectAltName);
  if (names.includes(expected.toLowerCase())) return undefined;
  const error = new Error(
    `peer certificate is for ${names.length === 0 ? 'no DNS name' : names.join(', ')}, not the expected identity ${expected}`,
  ) as Error & { code: string };
  error.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return error;
}

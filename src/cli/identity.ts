// `sluice identity`: the mesh's PKI from the command line, as `step certificate create` serves
// Linkerd users. `generate` writes a trust anchor and an issuer a user can keep and hand to
// `sluice install`; `inspect` shows what a certificate file holds; `token` mints a local-mesh token.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalToken, DEFAULT_LOCAL_TOKEN_TTL_MS, formatTokenKey, generateTokenKey, parseTokenKey } from '../control/identity/local-token.ts';
import { identityName, isDnsLabel } from '../api/identity-name.ts';
import {
  certificatesToPem,
  createIssuer,
  createTrustAnchor,
  DEFAULT_CA_LIFETIME_MS,
  isCa,
  parseCertificatesPem,
  privateKeyToPem,
  timeLeftMs,
  type Certificate,
} from '../control/identity/pki.ts';
import * as x509 from '../control/identity/x509.ts';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';

export const IDENTITY_USAGE = `Manage the mesh's identity certificates.

Usage:
  sluice identity generate [--out DIR] [--trust-domain D] [--control-plane-namespace NS]
                           [--anchor-lifetime 8760h] [--issuer-lifetime 8760h] [--force]
      Writes a trust anchor (ca.crt, ca.key), an issuer signed by it (issuer.crt, issuer.key) and a
      local-mesh token key (token.key) into DIR (default: the current directory). Keys are 0600.
  sluice identity inspect FILE...
      Shows each certificate in the PEM files: subject, issuer, names, CA or not, validity.
  sluice identity token --key FILE --sa SERVICEACCOUNT --ns NAMESPACE [--ttl 720h]
                        [--trust-domain D] [--control-plane-namespace NS]
      Prints a local-mesh token proving that identity to a controller started with
      --identity-token-key FILE (see docs/identity.md).

Flags:
  -h, --help
`;

const OPTIONS = {
  out: { type: 'string' },
  'trust-domain': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'anchor-lifetime': { type: 'string' },
  'issuer-lifetime': { type: 'string' },
  force: { type: 'boolean' },
  key: { type: 'string' },
  sa: { type: 'string' },
  ns: { type: 'string' },
  ttl: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** `8760h`, `365d`, `90m`: lifetimes run to years, beyond what timer durations allow. */
function parseLifetime(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (match === null || Number(match[1]) === 0) throw new CliError(`--${flag} ${JSON.stringify(value)}: expected a positive duration such as 8760h or 365d`, 2);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

function names(values: { 'trust-domain'?: string; 'control-plane-namespace'?: string }): { trustDomain: string; controlPlaneNamespace: string } {
  return { trustDomain: values['trust-domain'] ?? 'cluster.local', controlPlaneNamespace: values['control-plane-namespace'] ?? 'sluice' };
}

async function generate(values: Record<string, string | boolean | undefined>, io: CliIo): Promise<number> {
  const dir = path.resolve(typeof values['out'] === 'string' ? values['out'] : '.');
  const files = ['ca.crt', 'ca.key', 'issuer.crt', 'issuer.key', 'token.key'];
  const existing = files.filter((f) => existsSync(path.join(dir, f)));
  if (existing.length > 0 && values['force'] !== true) {
    throw new CliError(`${dir} already holds ${existing.join(', ')}; use --force to replace them`);
  }
  const domain = names(values as { 'trust-domain'?: string; 'control-plane-namespace'?: string });
  const anchorLifetime = parseLifetime('anchor-lifetime', values['anchor-lifetime'] as string | undefined, DEFAULT_CA_LIFETIME_MS);
  const issuerLifetime = parseLifetime('issuer-lifetime', values['issuer-lifetime'] as string | undefined, DEFAULT_CA_LIFETIME_MS);
  const anchor = await createTrustAnchor({ ...domain, lifetimeMs: anchorLifetime });
  const issuer = await createIssuer(anchor, { ...domain, lifetimeMs: issuerLifetime });
  mkdirSync(dir, { recursive: true });
  const write = (file: string, text: string, secret: boolean): void =>
    writeFileSync(path.join(dir, file), text, { mode: secret ? 0o600 : 0o644 });
  write('ca.crt', certificatesToPem([anchor.certificate]), false);
  write('ca.key', await privateKeyToPem(anchor.privateKey), true);
  write('issuer.crt', certificatesToPem([issuer.certificate]), false);
  write('issuer.key', await privateKeyToPem(issuer.privateKey), true);
  write('token.key', formatTokenKey(generateTokenKey()), true);
  io.stdout(
    `Trust anchor ${anchor.certificate.subject} (until ${anchor.certificate.notAfter.toISOString()}): ${path.join(dir, 'ca.crt')}, ca.key\n` +
      `Issuer ${issuer.certificate.subject} (until ${issuer.certificate.notAfter.toISOString()}): ${path.join(dir, 'issuer.crt')}, issuer.key\n` +
      `Local-mesh token key: ${path.join(dir, 'token.key')}\n` +
      'Keep ca.key offline: it is needed only to sign the next issuer.\n',
  );
  return 0;
}

function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs >= 86_400_000 ? `${Math.floor(abs / 86_400_000)}d${Math.floor((abs % 86_400_000) / 3600_000)}h` : `${Math.floor(abs / 3600_000)}h${Math.floor((abs % 3600_000) / 60_000)}m`;
  return ms < 0 ? `expired ${text} ago` : `${text} left`;
}

async function describeCertificate(certificate: Certificate, now: Date): Promise<string> {
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const altNames = san?.names.items.map((n) => `${n.type.toUpperCase()}:${n.value}`).join(', ') ?? '(none)';
  const fingerprint = Buffer.from(await certificate.getThumbprint('SHA-256')).toString('hex');
  return [
    `Subject:     ${certificate.subject}`,
    `Issuer:      ${certificate.issuer}`,
    `Alt names:   ${altNames}`,
    `CA:          ${isCa(certificate) ? 'yes' : 'no'}`,
    `Key:         ${(certificate.publicKey.algorithm as { name: string; namedCurve?: string }).name} ${(certificate.publicKey.algorithm as { namedCurve?: string }).namedCurve ?? ''}`.trimEnd(),
    `Not before:  ${certificate.notBefore.toISOString()}`,
    `Not after:   ${certificate.notAfter.toISOString()} (${formatDuration(timeLeftMs(certificate, now))})`,
    `Serial:      ${certificate.serialNumber}`,
    `SHA-256:     ${fingerprint}`,
  ].join('\n');
}

async function inspect(files: string[], io: CliIo): Promise<number> {
  if (files.length === 0) throw new CliError('identity inspect needs at least one FILE', 2);
  const now = new Date();
  const sections: string[] = [];
  for (const file of files) {
    let certificates: Certificate[];
    try {
      certificates = parseCertificatesPem(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new CliError(`${file}: ${(error as Error).message}`);
    }
    for (const [index, certificate] of certificates.entries()) {
      const heading = certificates.length > 1 ? `${file} [${index + 1}/${certificates.length}]` : file;
      sections.push(`${heading}\n${await describeCertificate(certificate, now)}`);
    }
  }
  io.stdout(`${sections.join('\n\n')}\n`);
  return 0;
}

function token(values: Record<string, string | boolean | undefined>, io: CliIo): number {
  const keyFile = values['key'];
  const sa = values['sa'];
  const ns = values['ns'];
  if (typeof keyFile !== 'string' || typeof sa !== 'string' || typeof ns !== 'string') {
    throw new CliError('identity token needs --key FILE, --sa SERVICEACCOUNT and --ns NAMESPACE', 2);
  }
  for (const [flag, value] of [['--sa', sa], ['--ns', ns]] as const) {
    if (!isDnsLabel(value)) throw new CliError(`${flag} ${JSON.stringify(value)}: expected a DNS-1123 label (lower-case letters, digits, '-')`, 2);
  }
  let key: Buffer;
  try {
    key = parseTokenKey(readFileSync(keyFile, 'utf8'));
  } catch (error) {
    throw new CliError(`${keyFile}: ${(error as Error).message}`);
  }
  const ttl = parseLifetime('ttl', values['ttl'] as string | undefined, DEFAULT_LOCAL_TOKEN_TTL_MS);
  const account = { serviceAccount: sa, namespace: ns };
  io.stdout(`${createLocalToken(key, account, ttl)}\n`);
  io.stderr(`token for ${identityName(account, names(values as { 'trust-domain'?: string; 'control-plane-namespace'?: string }))}\n`);
  return 0;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const [sub, ...rest] = positionals;
  if (values.help === true || sub === undefined) {
    io.stdout(IDENTITY_USAGE);
    return sub === undefined && values.help !== true ? 2 : 0;
  }
  switch (sub) {
    case 'generate':
      if (rest.length > 0) throw new CliError(`identity generate takes no arguments (got "${rest.join(' ')}")`, 2);
      return generate(values, io);
    case 'inspect':
      return inspect(rest, io);
    case 'token':
      if (rest.length > 0) throw new CliError(`identity token takes no arguments (got "${rest.join(' ')}")`, 2);
      return token(values, io);
    default:
      throw new CliError(`unknown identity command "${sub}" (expected generate, inspect or token)`, 2);
  }
}

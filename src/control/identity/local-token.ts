// Tokens for the local mesh, where there is no Kubernetes to vouch for a workload: the controller and
// whoever starts the workloads share a secret key file, and a token is an HMAC-SHA256 over the
// service account, namespace, audience and expiry under that key. Anyone holding the key can mint
// any identity, exactly as anyone holding a cluster's service-account signing key can; the file is
// written 0600 and lives beside the issuer's key.
//
//   sluice-local.v1.<base64url(JSON {sa, ns, aud, exp})>.<base64url(HMAC-SHA256(key, everything before))>
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isDnsLabel, type ServiceAccountRef } from '../../api/identity-name.ts';
import { TOKEN_AUDIENCE, type TokenValidator, type TokenVerdict } from './token.ts';

const PREFIX = 'sluice-local.v1.';
const KEY_BYTES = 32;
/** Local tokens outlive a working day of demos; Kubernetes rotates its own, nothing rotates these. */
export const DEFAULT_LOCAL_TOKEN_TTL_MS = 30 * 24 * 3600_000;

export function generateTokenKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** The key file's text: the key in base64 on one line. */
export function formatTokenKey(key: Buffer): string {
  return `${key.toString('base64')}\n`;
}

export function parseTokenKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length < KEY_BYTES) throw new Error(`token key must hold at least ${KEY_BYTES} bytes in base64 (has ${key.length})`);
  return key;
}

function mac(key: Buffer, signed: string): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

export function createLocalToken(key: Buffer, account: ServiceAccountRef, ttlMs = DEFAULT_LOCAL_TOKEN_TTL_MS, now = new Date()): string {
  const claims = { sa: account.serviceAccount, ns: account.namespace, aud: TOKEN_AUDIENCE, exp: Math.floor((now.getTime() + ttlMs) / 1000) };
  const signed = PREFIX + Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${signed}.${mac(key, signed).toString('base64url')}`;
}

export class LocalTokenValidator implements TokenValidator {
  readonly kind = 'local';
  private readonly key: Buffer;
  private readonly now: () => Date;

  constructor(key: Buffer, now: () => Date = () => new Date()) {
    this.key = key;
    this.now = now;
  }

  async validate(token: Uint8Array): Promise<TokenVerdict> {
    const text = Buffer.from(token).toString('utf8').trim();
    if (!text.startsWith(PREFIX)) return { kind: 'invalid', reason: 'not a Sluice local-mesh token' };
    const dot = text.lastIndexOf('.');
    const signed = text.slice(0, dot);
    const given = Buffer.from(text.slice(dot + 1), 'base64url');
    const expected = mac(this.key, signed);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'unauthenticated', reason: 'token signature does not verify with the controller\'s token key' };
    }
    let claims: { sa?: unknown; ns?: unknown; aud?: unknown; exp?: unknown };
    try {
      claims = JSON.parse(Buffer.from(signed.slice(PREFIX.length), 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return { kind: 'invalid', reason: 'token claims do not parse' };
    }
    const { sa, ns, aud, exp } = claims;
    if (typeof sa !== 'string' || typeof ns !== 'string' || !isDnsLabel(sa) || !isDnsLabel(ns)) {
      return { kind: 'invalid', reason: 'token names no valid service account and namespace' };
    }
    if (aud !== TOKEN_AUDIENCE) return { kind: 'unauthenticated', reason: `token audience is not ${TOKEN_AUDIENCE}` };
    if (typeof exp !== 'number' || exp * 1000 <= this.now().getTime()) {
      return { kind: 'unauthenticated', reason: `token expired${typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : ''}` };
    }
    return { kind: 'authenticated', account: { serviceAccount: sa, namespace: ns } };
  }
}

// The caller's Kubernetes credentials for tap: the controller checks them in a cluster (TokenReview,
// then a SubjectAccessReview; src/control/tap/authorize.ts). The CLI sends the bearer token its
// kubeconfig user authenticates with — a static token, a token file, or what an exec / auth-provider
// plugin returns — as `authorization: Bearer …`.
//
//   - Only to a public API on loopback (a port-forward, or the local mesh) or over https: a token sent
//     in plaintext across a network could be read and replayed against the API server.
//   - A user that authenticates with a client certificate has no token: a certificate proves its key
//     only in its own TLS handshake and cannot be forwarded, so such a user cannot tap in a cluster.
//   - No kubeconfig at all (the local mesh): nothing is sent, and the local controller asks for nothing.
import net from 'node:net';
import { loadKubeConfig, type KubeAccess } from './kubeconfig.ts';

/** Whether a token may be sent to the public API at `base` (`http://host:port` or `https://…`). Pure. */
export function mayCarryToken(base: string): boolean {
  const url = new URL(base);
  if (url.protocol === 'https:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

/** `Bearer <token>` of the kubeconfig's current user, or undefined (no kubeconfig, no token, or not sent to `base`). */
export async function kubeAuthorization(base: string, access: KubeAccess): Promise<string | undefined> {
  if (!mayCarryToken(base)) return undefined;
  let config;
  try {
    config = await loadKubeConfig(access);
  } catch {
    // No kubeconfig (the local mesh): nothing to send.
    return undefined;
  }
  const options: { headers: Record<string, string> } = { headers: {} };
  try {
    await config.applyToHTTPSOptions(options);
  } catch {
    // An exec plugin that fails: tap goes without, and a cluster's controller says what is missing.
    return undefined;
  }
  const authorization = options.headers['Authorization'] ?? options.headers['authorization'];
  return authorization !== undefined && /^Bearer\s+\S/i.test(authorization) ? authorization : undefined;
}

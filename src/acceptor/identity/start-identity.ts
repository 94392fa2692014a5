// Wires the proxy's identity into its main thread: one key and CSR, one Certify client over TLS, the
// provider that renews, and the hand-over of each certificate to the data plane — every worker (the
// pool re-sends it to a worker that replaces a crashed one) or, with SLUICE_PROXY_WORKERS=0, the main
// thread's own context. Loaded only when identity is configured.
import type { IdentityConfig } from '../../config/identity-config.ts';
import type { BackoffConfig } from '../../core/backoff.ts';
import { formatHostPort } from '../../config/parse.ts';
import type { Logger } from '../../log/logger.ts';
import type { LocalIdentity } from '../../workers/transport/local-identity.ts';
import { CertifyClient } from './certify-client.ts';
import { makeLocalKey } from '../key-child.ts';
import { IdentityProvider } from './provider.ts';

/** A Certify call that takes longer than this is abandoned and retried (signing takes milliseconds). */
const CERTIFY_TIMEOUT_MS = 10_000;

export interface RunningIdentity {
  readonly provider: IdentityProvider;
  close(): void;
}

export async function startIdentity(
  config: IdentityConfig,
  backoff: BackoffConfig,
  log: Logger,
  deliver: (identity: LocalIdentity) => void,
): Promise<RunningIdentity> {
  const key = await makeLocalKey(config.localName, log);
  const client = new CertifyClient({
    addr: config.svcAddr,
    serverName: config.svcName,
    anchorsPem: config.trustAnchorsPem,
    timeoutMs: CERTIFY_TIMEOUT_MS,
  });
  const provider = new IdentityProvider({
    localName: config.localName,
    tokenFile: config.tokenFile,
    trustAnchorsPem: config.trustAnchorsPem,
    key,
    certify: (request) => client.certify(request),
    backoff,
    log,
  });
  provider.onIdentity(deliver);
  log.info('identity: asking the Identity service for a certificate', {
    identity: config.localName,
    addr: formatHostPort(config.svcAddr),
    serverName: config.svcName,
  });
  provider.start();
  return {
    provider,
    close: () => {
      provider.close();
      client.close();
    },
  };
}

// Proof, from the two proxies' /metrics, that sluice-mesh-2-mtls measured what it claims: every request
// proxy A sent to the Service's endpoint went in mutual TLS to proxy B's verified identity, over
// connections A opened in TLS, and proxy B received them in TLS from A's verified identity. A run whose
// hop quietly stayed plaintext (no certificate, no identity from Destination) would otherwise report
// plaintext figures under the mTLS name; the target fails instead.
import { sumSamples } from './mesh.ts';

export interface MeshTlsExpectation {
  /** The endpoint A sends to (B's inbound listener), `ip:port`. */
  readonly endpoint: string;
  /** B's identity: what A must have verified (`server_id`). */
  readonly serverId: string;
  /** A's identity: what B must have verified (`client_id`). */
  readonly clientId: string;
}

/** Null when both proxies' metrics show the hop in mTLS and only in mTLS, else why not. */
export function meshTlsProblem(metricsA: string, metricsB: string, want: MeshTlsExpectation): string | null {
  const out = { direction: 'outbound', target_addr: want.endpoint };
  const sent = sumSamples(metricsA, 'request_total', out);
  if (sent === 0) return `proxy A counted no outbound requests to ${want.endpoint}`;
  const sentTls = sumSamples(metricsA, 'request_total', { ...out, tls: 'true', server_id: want.serverId });
  if (sentTls < sent) {
    const labels = sumSamples(metricsA, 'request_total', { ...out, tls: 'disabled' }) > 0 ? ' (tls="disabled": proxy A has no identity)' : '';
    return `only ${sentTls} of the ${sent} requests proxy A sent to ${want.endpoint} went in mTLS to server_id="${want.serverId}"${labels}`;
  }
  const opened = sumSamples(metricsA, 'tcp_open_total', { ...out, tls: 'true', server_id: want.serverId });
  if (opened === 0) return `proxy A opened no TLS connection to ${want.endpoint} (no tcp_open_total with tls="true", server_id="${want.serverId}")`;
  const received = sumSamples(metricsB, 'request_total', { direction: 'inbound' });
  if (received === 0) return 'proxy B counted no inbound requests';
  const receivedTls = sumSamples(metricsB, 'request_total', { direction: 'inbound', tls: 'true', client_id: want.clientId });
  if (receivedTls < received) return `only ${receivedTls} of the ${received} inbound requests of proxy B came in mTLS from client_id="${want.clientId}"`;
  return null;
}

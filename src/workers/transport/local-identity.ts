// The proxy's own identity as the data plane uses it for mTLS. The acceptor (main thread) obtains it
// from the Identity service (CSR + token, renewed at 70 % of its lifetime) and sends it to every worker
// in an `identity` message; the transport originates and terminates TLS with the latest one it holds.
// Plain data (cloned between threads): PEM text, no KeyObject.

export interface LocalIdentity {
  /** `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`: the only DNS SAN of the leaf. */
  readonly name: string;
  /** The leaf certificate first, then the intermediates the Identity service returned (PEM). */
  readonly certChainPem: string;
  /** The leaf's private key (PKCS#8 PEM); generated in memory, never written to disk. */
  readonly keyPem: string;
  /** The trust anchors peers' chains must end in (PEM bundle). */
  readonly trustAnchorsPem: string;
  /** The leaf's notAfter, milliseconds since the epoch. */
  readonly notAfterMs: number;
}

/** ALPN protocol the mesh hop negotiates, as Linkerd's proxies do (wire-facts 1.10). */
export const MESH_TRANSPORT_ALPN = 'transport.l5d.io/v1';

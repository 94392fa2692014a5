// Every failure the proxy answers for itself, mapped in one table to an HTTP status, a gRPC status and
// the `sluice-proxy-error` reason (Linkerd's `errors/respond` and `l5d-proxy-error`).

import { GrpcStatusCode } from '../api/grpc-status.ts';

export const PROXY_ERROR_HEADER = 'sluice-proxy-error';

export const GRPC_STATUS = GrpcStatusCode;

export type ProxyErrorKind =
  | 'no_target'
  | 'dns_not_found'
  | 'connect_refused'
  | 'connect_timeout'
  | 'connect_error'
  | 'response_timeout'
  | 'upstream_reset'
  | 'bad_upstream_response'
  | 'loop_detected'
  | 'bad_request'
  | 'headers_too_large'
  | 'header_timeout'
  // Control-plane-driven routing (mesh.ts): a known service with no endpoints, or every endpoint ejected.
  | 'no_endpoints'
  | 'fail_fast'
  // Load shedding: more requests wait for an upstream than the proxy queues.
  | 'overloaded'
  // Mesh TLS to an endpoint the Destination service gave an identity (issue 8): the handshake failed.
  | 'tls_wrong_identity'
  | 'tls_untrusted'
  | 'tls_expired'
  | 'tls_handshake'
  // Inbound authorization (docs/authorization.md): no authorization of the port lets this client in.
  | 'unauthorized';

interface Response {
  readonly status: number;
  readonly grpc: number;
  /** What the `sluice-proxy-error` header and the body say. */
  readonly message: string;
}

export const ERROR_RESPONSES: Readonly<Record<ProxyErrorKind, Response>> = {
  no_target: { status: 503, grpc: GRPC_STATUS.UNAVAILABLE, message: 'no destination for this request' },
  dns_not_found: { status: 503, grpc: GRPC_STATUS.UNAVAILABLE, message: 'authority could not be resolved' },
  connect_refused: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'connection refused by upstream' },
  connect_timeout: { status: 504, grpc: GRPC_STATUS.UNAVAILABLE, message: 'connect to upstream timed out' },
  connect_error: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'could not connect to upstream' },
  response_timeout: { status: 504, grpc: GRPC_STATUS.DEADLINE_EXCEEDED, message: 'response timed out' },
  upstream_reset: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'upstream closed the connection' },
  bad_upstream_response: { status: 502, grpc: GRPC_STATUS.INTERNAL, message: 'upstream sent a malformed response' },
  loop_detected: { status: 508, grpc: GRPC_STATUS.UNAVAILABLE, message: 'request would loop back to the proxy' },
  bad_request: { status: 400, grpc: GRPC_STATUS.INTERNAL, message: 'malformed HTTP request' },
  headers_too_large: { status: 431, grpc: GRPC_STATUS.INTERNAL, message: 'request headers too large' },
  header_timeout: { status: 408, grpc: GRPC_STATUS.DEADLINE_EXCEEDED, message: 'request headers not received in time' },
  no_endpoints: { status: 503, grpc: GRPC_STATUS.UNAVAILABLE, message: 'service has no endpoints' },
  fail_fast: { status: 503, grpc: GRPC_STATUS.UNAVAILABLE, message: 'service in fail-fast: every endpoint is ejected' },
  overloaded: { status: 503, grpc: GRPC_STATUS.RESOURCE_EXHAUSTED, message: 'proxy overloaded: too many requests waiting for the upstream' },
  tls_wrong_identity: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'upstream presented a certificate for another identity' },
  tls_untrusted: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'upstream certificate is not signed by the trust anchors' },
  tls_expired: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'upstream certificate has expired or is not yet valid' },
  tls_handshake: { status: 502, grpc: GRPC_STATUS.UNAVAILABLE, message: 'TLS handshake with upstream failed' },
  unauthorized: { status: 403, grpc: GRPC_STATUS.PERMISSION_DENIED, message: 'client is not authorized by the inbound policy' },
};

export class ProxyError extends Error {
  readonly kind: ProxyErrorKind;
  constructor(kind: ProxyErrorKind, detail?: string) {
    super(detail === undefined ? ERROR_RESPONSES[kind].message : `${ERROR_RESPONSES[kind].message}: ${detail}`);
    this.name = 'ProxyError';
    this.kind = kind;
  }
}

/**
 * Maps an error from connecting or talking to an upstream to the kind the client is told about.
 * Wrapped errors are looked through: Node's http2 fails the streams pending on a session whose connect
 * failed with `ERR_HTTP2_STREAM_CANCEL`, the connect error itself in `cause`.
 */
export function classifyUpstreamError(error: unknown): ProxyErrorKind {
  let current = error;
  // A bounded walk: a cause chain may be circular.
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    const kind = classifyOne(current);
    if (kind !== undefined) return kind;
    current = (current as { cause?: unknown }).cause;
  }
  return 'upstream_reset';
}

/** The kind for one error in a cause chain, or undefined when its code says nothing specific. */
function classifyOne(error: unknown): ProxyErrorKind | undefined {
  if (error instanceof ProxyError) return error.kind;
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'dns_not_found';
    // OpenSSL's verification results, as node:tls reports them (the peer's chain against our anchors).
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'tls_expired';
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
    case 'INVALID_CA':
      return 'tls_untrusted';
    // The chain is trusted but names someone else (our checkServerIdentity).
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'tls_wrong_identity';
    // OpenSSL failing on the bytes themselves (e.g. "wrong version number": the peer did not answer in TLS).
    case 'EPROTO':
      return 'tls_handshake';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'EACCES':
    case 'EPERM':
      return 'connect_error';
    default:
      if (typeof code !== 'string') return undefined;
      // llhttp's parse errors (HPE_INVALID_STATUS, HPE_INVALID_VERSION, HPE_UNEXPECTED_SPACE, ...): the
      // upstream's bytes are not an HTTP/1 response.
      if (code.startsWith('HPE_')) return 'bad_upstream_response';
      // OpenSSL's own (ERR_SSL_WRONG_VERSION_NUMBER from a plaintext peer, alerts, no shared cipher...).
      if (code.startsWith('ERR_SSL_') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'tls_handshake';
      return undefined;
  }
}

/** gRPC's own convention: a request is gRPC when its content type is application/grpc[+proto|…]. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith('application/grpc');
}

// The proxy's client of `io.linkerd.proxy.identity.Identity/Certify`, over TLS: the Identity service
// must present a certificate that chains to the trust anchors and names SLUICE_PROXY_IDENTITY_SVC_NAME
// (the controller's identity), whatever address it was reached at — the name is what the proxy
// trusts, as Linkerd's proxy verifies the identity service as `LINKERD2_PROXY_IDENTITY_SVC_NAME`.
// Loaded only with identity on (grpc-js and the proto loader stay out of a proxy without it).
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { formatHostPort, type HostPort } from '../../config/parse.ts';

export interface CertifyRequest {
  readonly identity: string;
  readonly token: Uint8Array;
  readonly certificate_signing_request: Uint8Array;
}

export interface CertifyResponse {
  readonly leaf_certificate?: Uint8Array;
  readonly intermediate_certificates?: readonly Uint8Array[];
  readonly valid_until?: { readonly seconds?: number; readonly nanos?: number } | null;
}

export interface CertifyClientOptions {
  readonly addr: HostPort;
  /** The identity the server's certificate must carry (SNI and hostname check both use it). */
  readonly serverName: string;
  readonly anchorsPem: string;
  /** Each call gives up after this long. */
  readonly timeoutMs: number;
  /** The channel's reconnect backoff; defaults to grpc-js's (1 s … 120 s). */
  readonly reconnect?: { readonly minMs: number; readonly maxMs: number };
}

type CertifyMethod = (
  request: CertifyRequest,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: CertifyResponse) => void,
) => grpc.ClientUnaryCall;

/** A failed call, with the gRPC status name (UNAVAILABLE, FAILED_PRECONDITION …) for the log. */
export class CertifyCallError extends Error {
  override name = 'CertifyCallError';
  readonly code: grpc.status;
  constructor(error: grpc.ServiceError) {
    super(`${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`);
    this.code = error.code;
  }
}

export class CertifyClient {
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;

  constructor(options: CertifyClientOptions) {
    const Stub = lookup<grpc.ServiceClientConstructor>(loadProto('identity.proto'), 'io.linkerd.proxy.identity.Identity');
    const credentials = grpc.credentials.createSsl(Buffer.from(options.anchorsPem));
    this.client = new Stub(formatHostPort(options.addr), credentials, {
      // The name verified (SAN) and sent as SNI is the controller's identity, not the address's host.
      'grpc.ssl_target_name_override': options.serverName,
      'grpc.default_authority': options.serverName,
      'grpc.enable_retries': 0,
      // The channel's reconnects follow the proxy's backoff (as the Destination client's do), so
      // neither waits on the other's longer default.
      ...(options.reconnect === undefined
        ? {}
        : { 'grpc.initial_reconnect_backoff_ms': options.reconnect.minMs, 'grpc.max_reconnect_backoff_ms': options.reconnect.maxMs }),
    });
    this.timeoutMs = options.timeoutMs;
  }

  certify(request: CertifyRequest): Promise<CertifyResponse> {
    const method = (this.client as unknown as { Certify: CertifyMethod }).Certify;
    return new Promise((resolve, reject) => {
      method.call(this.client, request, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error !== null) reject(new CertifyCallError(error));
        else resolve(response ?? {});
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

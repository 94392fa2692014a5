// The proxy's client of `io.linkerd.proxy.identity.Identity/Certify`, over TLS: the Identity service
// must present a certificate that chains to the trust anchors and names SLUICE_PROXY_IDENTITY_SVC_NAME
// (the controller's identity), whatever address it was reached at — the name is what the proxy
// trusts, as Linkerd's proxy verifies the identity service as `LINKERD2_PROXY_IDENTITY_SVC_NAME`.
// On the proxy's own gRPC client (src/acceptor/grpc) over node:tls, like its other control-plane calls:
// grpc-js and protobufjs stay out of every proxy (they would cost ~25 MB in each pod). Loaded only with
// identity on.
import type net from 'node:net';
import type tls from 'node:tls';
import type { HostPort } from '../../config/parse.ts';
import type { MethodDescriptor } from '../grpc/call.ts';
import { GrpcChannel } from '../grpc/channel.ts';
import { CertifyRequest as CertifyRequestSpec, CertifyResponse as CertifyResponseSpec } from '../grpc/identity-schema.ts';
import { decodeMessage, encodeMessage } from '../grpc/protobuf-schema.ts';
import { GrpcError } from '../grpc/status.ts';

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
}

const Certify: MethodDescriptor<CertifyRequest, CertifyResponse> = {
  path: '/io.linkerd.proxy.identity.Identity/Certify',
  encode: (request) => encodeMessage(CertifyRequestSpec, request),
  decode: (bytes) => decodeMessage(CertifyResponseSpec, bytes, { longs: 'number' }) as CertifyResponse,
};

/** A failed call, with the gRPC status name (UNAVAILABLE, FAILED_PRECONDITION …) for the log. */
export class CertifyCallError extends Error {
  override name = 'CertifyCallError';
  readonly code: number;
  constructor(error: GrpcError) {
    super(error.message);
    this.code = error.code;
  }
}

export class CertifyClient {
  private readonly channel: GrpcChannel;
  private readonly timeoutMs: number;

  constructor(options: CertifyClientOptions) {
    const node = process.getBuiltinModule('node:tls') as typeof tls;
    const { serverName } = options;
    const secureContext = node.createSecureContext({ ca: options.anchorsPem, minVersion: 'TLSv1.2' });
    this.channel = new GrpcChannel({
      authority: serverName,
      scheme: 'https',
      connect: (): net.Socket =>
        node.connect({
          host: options.addr.host,
          port: options.addr.port,
          // The name verified (SAN) and sent as SNI is the controller's identity, not the address's host.
          servername: serverName,
          secureContext,
          ALPNProtocols: ['h2'],
          checkServerIdentity: (_host, cert) => node.checkServerIdentity(serverName, cert),
        }),
    });
    this.timeoutMs = options.timeoutMs;
  }

  async certify(request: CertifyRequest): Promise<CertifyResponse> {
    try {
      return await this.channel.unary(Certify, request, { timeoutMs: this.timeoutMs });
    } catch (error) {
      throw error instanceof GrpcError ? new CertifyCallError(error) : error;
    }
  }

  close(): void {
    this.channel.close();
  }
}

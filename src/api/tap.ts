// The Linkerd proxy Tap API (proto/tap.proto) for grpc-js: the service definition the proxy serves and
// the client the controller's tap relay uses. Loaded with the project's options except that 64-bit
// integers are decimal strings: IPv6 halves (fixed64) would lose precision as JS numbers.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, lookup } from './proto.ts';

export const TAP_LOADER_OPTIONS: protoLoader.Options = { ...LOADER_OPTIONS, longs: String };

let constructor: grpc.ServiceClientConstructor | undefined;

function tapConstructor(): grpc.ServiceClientConstructor {
  constructor ??= lookup<grpc.ServiceClientConstructor>(
    grpc.loadPackageDefinition(protoLoader.loadSync('tap.proto', TAP_LOADER_OPTIONS)),
    'io.linkerd.proxy.tap.Tap',
  );
  return constructor;
}

/** `io.linkerd.proxy.tap.Tap`, for `grpc.Server.addService`. */
export function tapServiceDefinition(): grpc.ServiceDefinition {
  return tapConstructor().service;
}

export interface TapClient extends grpc.Client {
  Observe(request: object, options?: grpc.CallOptions): grpc.ClientReadableStream<Record<string, unknown>>;
}

/**
 * A client of one proxy's Tap server at `address` (`host:port`): plaintext by default, or over the
 * given TLS credentials (the controller's tap relay under identity, src/control/tap/proxy-tls.ts).
 */
export function tapClient(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): TapClient {
  const Client = tapConstructor();
  return new Client(address, credentials, options) as unknown as TapClient;
}

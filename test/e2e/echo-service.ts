// The Echo gRPC service of the end-to-end test (test/e2e/echo.proto), loaded with proto-loader and
// shared by the server (servers.ts) and the client (app.ts).
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export const PROTO_PATH = fileURLToPath(new URL('./echo.proto', import.meta.url));

export interface EchoRequest {
  text: string;
  count: number;
}

export interface EchoReply {
  text: string;
  peer: string;
  index: number;
}

export interface EchoClient extends grpc.Client {
  Unary(request: EchoRequest, callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void): grpc.ClientUnaryCall;
  Unary(request: EchoRequest, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void): grpc.ClientUnaryCall;
  Stream(request: EchoRequest): grpc.ClientReadableStream<EchoReply>;
}

export interface EchoService {
  service: grpc.ServiceDefinition;
  newClient(address: string): EchoClient;
}

export function loadEcho(): EchoService {
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, defaults: true });
  const root = grpc.loadPackageDefinition(definition);
  const sluice = root['sluice'] as grpc.GrpcObject;
  const e2e = sluice['e2e'] as grpc.GrpcObject;
  const Echo = e2e['Echo'] as grpc.ServiceClientConstructor;
  return {
    service: Echo.service,
    newClient: (address) => new Echo(address, grpc.credentials.createInsecure()) as unknown as EchoClient,
  };
}

/** `10.0.0.2:41234`, `[::1]:5`, `ipv4:10.0.0.2:41234` → the host part, IPv4-mapped prefix removed. */
export function peerHost(peer: string): string {
  const withoutScheme = peer.replace(/^ipv[46]:/, '');
  const m = /^\[(.*)\]:\d+$/.exec(withoutScheme) ?? /^(.*):\d+$/.exec(withoutScheme);
  const host = m?.[1] ?? withoutScheme;
  return host.replace(/^::ffff:/, '');
}

// Field tables (protobuf-schema.ts) of io.linkerd.proxy.inbound (proto/inbound.proto): the PortSpec the
// proxy sends and the Server it is told for one inbound port. Checked against the .proto by
// protobuf-schema.test.ts.
import { Duration, IPAddress, Metadata } from './common-schema.ts';
import { field, message, type MessageSpec } from './protobuf-schema.ts';

const P = 'io.linkerd.proxy.inbound';

export const PortSpec = message(`${P}.PortSpec`, [field(1, 'workload', 'string'), field(2, 'port', 'uint32')]);

const IPNetwork = message('io.linkerd.proxy.net.IPNetwork', [
  field(1, 'ip', 'message', { message: () => IPAddress }),
  field(2, 'prefix_len', 'uint32'),
]);

const Empty = (name: string): MessageSpec => message(name, []);
const Detect = message(`${P}.ProxyProtocol.Detect`, [field(1, 'timeout', 'message', { message: () => Duration })]);
const Opaque = Empty(`${P}.ProxyProtocol.Opaque`);
const Tls = Empty(`${P}.ProxyProtocol.Tls`);
const Http1 = Empty(`${P}.ProxyProtocol.Http1`);
const Http2 = Empty(`${P}.ProxyProtocol.Http2`);
const Grpc = Empty(`${P}.ProxyProtocol.Grpc`);
const ProxyProtocol = message(`${P}.ProxyProtocol`, [
  field(1, 'detect', 'message', { oneof: 'kind', message: () => Detect }),
  field(2, 'opaque', 'message', { oneof: 'kind', message: () => Opaque }),
  field(3, 'tls', 'message', { oneof: 'kind', message: () => Tls }),
  field(4, 'http1', 'message', { oneof: 'kind', message: () => Http1 }),
  field(5, 'http2', 'message', { oneof: 'kind', message: () => Http2 }),
  field(6, 'grpc', 'message', { oneof: 'kind', message: () => Grpc }),
]);

const Network = message(`${P}.Network`, [
  field(1, 'net', 'message', { message: () => IPNetwork }),
  field(2, 'except', 'message', { repeated: true, message: () => IPNetwork }),
]);

const Identity = message(`${P}.Identity`, [field(1, 'name', 'string')]);
const IdentitySuffix = message(`${P}.IdentitySuffix`, [field(1, 'parts', 'string', { repeated: true })]);
const PermitUnauthenticated = Empty(`${P}.Authn.PermitUnauthenticated`);
const PermitClientIdentities = message(`${P}.Authn.PermitMeshTLS.PermitClientIdentities`, [
  field(1, 'identities', 'message', { repeated: true, message: () => Identity }),
  field(2, 'suffixes', 'message', { repeated: true, message: () => IdentitySuffix }),
]);
const PermitMeshTLS = message(`${P}.Authn.PermitMeshTLS`, [
  field(1, 'unauthenticated', 'message', { oneof: 'clients', message: () => PermitUnauthenticated }),
  field(2, 'identities', 'message', { oneof: 'clients', message: () => PermitClientIdentities }),
]);
const Authn = message(`${P}.Authn`, [
  field(1, 'unauthenticated', 'message', { oneof: 'permit', message: () => PermitUnauthenticated }),
  field(2, 'meshTLS', 'message', { oneof: 'permit', message: () => PermitMeshTLS }),
]);

const Authz = message(`${P}.Authz`, [
  field(1, 'networks', 'message', { repeated: true, message: () => Network }),
  field(2, 'authentication', 'message', { message: () => Authn }),
  field(3, 'labels', 'map'),
  field(4, 'metadata', 'message', { message: () => Metadata }),
]);

export const Server = message(`${P}.Server`, [
  field(1, 'protocol', 'message', { message: () => ProxyProtocol }),
  field(2, 'server_ips', 'message', { repeated: true, message: () => IPAddress }),
  field(3, 'authorizations', 'message', { repeated: true, message: () => Authz }),
  field(4, 'labels', 'map'),
]);

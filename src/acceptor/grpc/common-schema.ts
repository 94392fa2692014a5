// Field tables (protobuf-schema.ts) of the small messages the Destination and Telemetry APIs share:
// google.protobuf.Duration and Timestamp, and the project's net.proto, meta.proto and http_types.proto. Field numbers
// and types as in proto/ (checked against them by protobuf-schema.test.ts).
import { field, message } from './protobuf-schema.ts';

export const Duration = message('google.protobuf.Duration', [field(1, 'seconds', 'int64'), field(2, 'nanos', 'int32')]);

export const Timestamp = message('google.protobuf.Timestamp', [field(1, 'seconds', 'int64'), field(2, 'nanos', 'int32')]);

export const IPv6 = message('io.linkerd.proxy.net.IPv6', [field(1, 'first', 'fixed64'), field(2, 'last', 'fixed64')]);

export const IPAddress = message('io.linkerd.proxy.net.IPAddress', [
  field(1, 'ipv4', 'fixed32', { oneof: 'ip' }),
  field(2, 'ipv6', 'message', { oneof: 'ip', message: () => IPv6 }),
]);

export const TcpAddress = message('io.linkerd.proxy.net.TcpAddress', [
  field(1, 'ip', 'message', { message: () => IPAddress }),
  field(2, 'port', 'uint32'),
]);

export const Resource = message('io.linkerd.proxy.meta.Resource', [
  field(1, 'group', 'string'),
  field(2, 'kind', 'string'),
  field(3, 'name', 'string'),
  field(4, 'namespace', 'string'),
  field(5, 'section', 'string'),
  field(6, 'port', 'uint32'),
]);

export const Metadata = message('io.linkerd.proxy.meta.Metadata', [
  field(1, 'default', 'string', { oneof: 'kind' }),
  field(2, 'resource', 'message', { oneof: 'kind', message: () => Resource }),
]);

export const HttpMethod = message('io.linkerd.proxy.http_types.HttpMethod', [
  field(1, 'registered', 'enum', { oneof: 'type', enumNames: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE'] }),
  field(2, 'unregistered', 'string', { oneof: 'type' }),
]);

// Field tables (protobuf-schema.ts) of io.linkerd.proxy.destination (proto/destination.proto): the
// GetDestination request the proxy sends and everything an Update or a DestinationProfile may carry,
// decoded into the objects destination-decode.ts reads (UpdateMsg, ProfileMsg). Fields the proxy does
// not use yet (TLS identity, protocol hints, HTTP/2 parameters, overrides) are decoded all the same, so
// they cost one line each to use and the tables can be checked whole against the .proto.
import { Duration, HttpMethod, Metadata, TcpAddress } from './common-schema.ts';
import { field, message, type MessageSpec } from './protobuf-schema.ts';

const P = 'io.linkerd.proxy.destination';

export const GetDestination = message(`${P}.GetDestination`, [
  field(1, 'scheme', 'string'),
  field(2, 'path', 'string'),
  field(3, 'context_token', 'string'),
]);

const DnsLikeIdentity = message(`${P}.TlsIdentity.DnsLikeIdentity`, [field(1, 'name', 'string')]);
const UriLikeIdentity = message(`${P}.TlsIdentity.UriLikeIdentity`, [field(1, 'uri', 'string')]);
const TlsIdentity = message(`${P}.TlsIdentity`, [
  field(1, 'dns_like_identity', 'message', { oneof: 'strategy', message: () => DnsLikeIdentity }),
  field(3, 'uri_like_identity', 'message', { oneof: 'strategy', message: () => UriLikeIdentity }),
  field(4, 'server_name', 'message', { message: () => DnsLikeIdentity }),
]);

const AuthorityOverride = message(`${P}.AuthorityOverride`, [field(1, 'authority_override', 'string')]);

const Empty = (name: string): MessageSpec => message(name, []);
const H2 = Empty(`${P}.ProtocolHint.H2`);
const Opaque = Empty(`${P}.ProtocolHint.Opaque`);
const OpaqueTransport = message(`${P}.ProtocolHint.OpaqueTransport`, [field(1, 'inbound_port', 'uint32')]);
const ProtocolHint = message(`${P}.ProtocolHint`, [
  field(1, 'h2', 'message', { oneof: 'protocol', message: () => H2 }),
  field(2, 'opaque_transport', 'message', { message: () => OpaqueTransport }),
  field(3, 'opaque', 'message', { oneof: 'protocol', message: () => Opaque }),
]);

const FlowControl = message(`${P}.Http2ClientParams.FlowControl`, [
  field(1, 'initial_connection_window_size', 'uint32'),
  field(2, 'initial_stream_window_size', 'uint32'),
  field(3, 'adaptive_flow_control', 'bool'),
]);
const KeepAlive = message(`${P}.Http2ClientParams.KeepAlive`, [
  field(1, 'interval', 'message', { message: () => Duration }),
  field(2, 'timeout', 'message', { message: () => Duration }),
  field(3, 'while_idle', 'bool'),
]);
const Internals = message(`${P}.Http2ClientParams.Internals`, [
  field(1, 'max_concurrent_reset_streams', 'uint32'),
  field(2, 'max_frame_size', 'uint32'),
  field(3, 'max_send_buf_size', 'uint32'),
]);
const Http2ClientParams = message(`${P}.Http2ClientParams`, [
  field(1, 'flow_control', 'message', { message: () => FlowControl }),
  field(2, 'keep_alive', 'message', { message: () => KeepAlive }),
  field(3, 'internals', 'message', { message: () => Internals }),
]);

export const WeightedAddr = message(`${P}.WeightedAddr`, [
  field(1, 'addr', 'message', { message: () => TcpAddress }),
  field(3, 'weight', 'uint32'),
  field(4, 'metric_labels', 'map'),
  field(5, 'tls_identity', 'message', { message: () => TlsIdentity }),
  field(6, 'protocol_hint', 'message', { message: () => ProtocolHint }),
  field(7, 'authority_override', 'message', { message: () => AuthorityOverride }),
  field(8, 'http2', 'message', { message: () => Http2ClientParams }),
  field(9, 'resource_ref', 'message', { message: () => Metadata }),
]);

const WeightedAddrSet = message(`${P}.WeightedAddrSet`, [
  field(1, 'addrs', 'message', { repeated: true, message: () => WeightedAddr }),
  field(2, 'metric_labels', 'map'),
]);
const AddrSet = message(`${P}.AddrSet`, [field(1, 'addrs', 'message', { repeated: true, message: () => TcpAddress })]);
const NoEndpoints = message(`${P}.NoEndpoints`, [field(1, 'exists', 'bool')]);

export const Update = message(`${P}.Update`, [
  field(1, 'add', 'message', { oneof: 'update', message: () => WeightedAddrSet }),
  field(2, 'remove', 'message', { oneof: 'update', message: () => AddrSet }),
  field(3, 'no_endpoints', 'message', { oneof: 'update', message: () => NoEndpoints }),
]);

const PathMatch = message(`${P}.PathMatch`, [field(1, 'regex', 'string')]);
const RequestMatchSeq: MessageSpec = message(`${P}.RequestMatch.Seq`, [field(1, 'matches', 'message', { repeated: true, message: () => RequestMatch })]);
const RequestMatch: MessageSpec = message(`${P}.RequestMatch`, [
  field(1, 'all', 'message', { oneof: 'match', message: () => RequestMatchSeq }),
  field(2, 'any', 'message', { oneof: 'match', message: () => RequestMatchSeq }),
  field(3, 'not', 'message', { oneof: 'match', message: () => RequestMatch }),
  field(4, 'path', 'message', { oneof: 'match', message: () => PathMatch }),
  field(5, 'method', 'message', { oneof: 'match', message: () => HttpMethod }),
]);

const HttpStatusRange = message(`${P}.HttpStatusRange`, [field(1, 'min', 'uint32'), field(2, 'max', 'uint32')]);
const ResponseMatchSeq: MessageSpec = message(`${P}.ResponseMatch.Seq`, [field(1, 'matches', 'message', { repeated: true, message: () => ResponseMatch })]);
const ResponseMatch: MessageSpec = message(`${P}.ResponseMatch`, [
  field(1, 'all', 'message', { oneof: 'match', message: () => ResponseMatchSeq }),
  field(2, 'any', 'message', { oneof: 'match', message: () => ResponseMatchSeq }),
  field(3, 'not', 'message', { oneof: 'match', message: () => ResponseMatch }),
  field(4, 'status', 'message', { oneof: 'match', message: () => HttpStatusRange }),
]);

const ResponseClass = message(`${P}.ResponseClass`, [
  field(1, 'condition', 'message', { message: () => ResponseMatch }),
  field(2, 'is_failure', 'bool'),
]);

const Route = message(`${P}.Route`, [
  field(1, 'condition', 'message', { message: () => RequestMatch }),
  field(2, 'response_classes', 'message', { repeated: true, message: () => ResponseClass }),
  field(3, 'metrics_labels', 'map'),
  field(4, 'is_retryable', 'bool'),
  field(5, 'timeout', 'message', { message: () => Duration }),
]);

const RetryBudget = message(`${P}.RetryBudget`, [
  field(1, 'retry_ratio', 'float'),
  field(2, 'min_retries_per_second', 'uint32'),
  field(3, 'ttl', 'message', { message: () => Duration }),
]);

const WeightedDst = message(`${P}.WeightedDst`, [
  field(1, 'authority', 'string'),
  field(2, 'weight', 'uint32'),
  field(3, 'backend_ref', 'message', { message: () => Metadata }),
]);

export const DestinationProfile = message(`${P}.DestinationProfile`, [
  field(1, 'routes', 'message', { repeated: true, message: () => Route }),
  field(2, 'retry_budget', 'message', { message: () => RetryBudget }),
  field(3, 'dst_overrides', 'message', { repeated: true, message: () => WeightedDst }),
  field(4, 'opaque_protocol', 'bool'),
  field(5, 'fully_qualified_name', 'string'),
  field(6, 'endpoint', 'message', { message: () => WeightedAddr }),
  field(7, 'parent_ref', 'message', { message: () => Metadata }),
  field(8, 'profile_ref', 'message', { message: () => Metadata }),
]);
